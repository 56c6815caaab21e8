"""The HTTP API: OpenAI- and Ollama-compatible endpoints and admin routes, thin over tierd."""
