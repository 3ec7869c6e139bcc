"""The run report (one self-contained HTML page), its template, and the PNG plots that jobs draw."""
