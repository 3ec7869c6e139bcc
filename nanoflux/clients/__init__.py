"""The LMs the roles call (litellm strings, the embedded llama.cpp model, Hugging Face models), their rate
limits, prices and token usage. Nothing here imports the engine or a job."""
