"""Runtimes: the embedded llama.cpp, Ollama hosts and cloud providers, behind one interface."""
