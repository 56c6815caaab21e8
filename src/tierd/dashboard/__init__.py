"""The dashboard page: static files that show what the box is doing and what it costs.

The same page runs live (the daemon serves `static/` at /ui/ and its JSON routes feed it) and
as a static site of snapshot files (`site.write_site`). CONTRACT.md lists what it reads.
"""
