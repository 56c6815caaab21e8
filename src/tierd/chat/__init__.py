"""Chat as tierd sees it, whatever API it came through.

`request` is the one internal chat request (text and image parts, tools, tool choice, tool
calls with ids, tool results, a response format) and `reply` assembles the streamed events
(`tierd.runtimes.base.Chunk`) into a whole answer. Each API shape has one module here that
translates to and from them, both ways, streaming included — `openai`, `ollama`,
`anthropic` — so an API face (tierd.faces) and a runtime speaking that API to a provider or
host use the same translation. `capabilities` says which features each model has.
"""
