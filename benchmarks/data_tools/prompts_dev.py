"""The development set: prompts written after the rules and exemplars were first tuned, for the
decisions made since (rule changes, the margin), so the test part stays unseen.

Written from the task definitions, not from the test part, with their own pasted material, and
deliberately in the phrasings the tune part has least of: terse cron lines, agent-framework
system prompts, multi-turn histories, questions that never name their task, requests in a
casual or a formal register. `make_dev.py` writes them to benchmarks/data/routing_dev.jsonl.
"""

from __future__ import annotations

from shapes import agent, chat, user

FEED = """<item><title>Postgres 17.2 released</title><link>https://pg.example/17.2</link></item>
<item><title>Why we left Kubernetes</title><link>https://blog.example/k8s</link></item>
<item><title>SQLite 3.47 adds jsonb</title><link>https://sqlite.example/347</link></item>"""

SYSLOG = """Jun 03 02:00:01 pi CRON[411]: (root) CMD (restic backup /srv)
Jun 03 02:04:17 pi restic[412]: error: lstat /srv/tmp/socket: no such file or directory
Jun 03 02:09:55 pi restic[412]: snapshot 8f2a1c saved
Jun 03 02:10:02 pi kernel: usb 1-1.2: reset high-speed USB device number 4
Jun 03 02:13:40 pi sshd[901]: Failed password for invalid user admin from 203.0.113.7"""

JOBS = """backup-nas      02:00  ok      14m
index-rebuild   04:00  ok      22m
mail-extract    every 15m  failed  (3 of 96 runs)
cert-renew      weekly  ok      1m"""

NOTES = """- Ana will send the vendor shortlist by Friday
- we agreed to drop IE11 support in the next release
- Ben: check whether the staging DB can be resized without downtime
- next sync moved to Thursday"""

MAIL = """From: orders@acme-tools.example
Subject: Order 55-1932 confirmed
Hi Sam, your order 55-1932 (2x torque wrench, 1x bit set) ships on 14 June to
Unit 4, Harbour Road, Cork. Total charged: EUR 212.40. — Acme Tools"""

TICKET = """I was charged twice for my June subscription and the app still says my plan
expired. Can someone look at this today? — Lena (account 8812)"""

TODO_FILE = """```python
def sync(remote):
    # TODO: retry on 429
    data = fetch(remote)
    # FIXME: this drops the last page
    return paginate(data)[:-1]

def export(rows):
    # TODO(ana): stream instead of building the list
    return [row.to_csv() for row in rows]
```"""

GO_RACE = """```go
var hits = map[string]int{}

func handle(w http.ResponseWriter, r *http.Request) {
    hits[r.URL.Path]++
    fmt.Fprintf(w, "%d", hits[r.URL.Path])
}
```"""

PY_TEST_FAIL = """```
FAILED tests/test_dates.py::test_parse_week - AssertionError: assert 52 == 1
    def test_parse_week():
>       assert parse_week("2025-01-01") == 1
```"""

PY_SNIPPET = """```python
def load(path):
    f = open(path)
    data = json.load(f)
    return data["items"]
```"""

TS_SNIPPET = """```typescript
export async function getUser(id: string) {
  const res = await fetch(`/api/users/${id}`);
  return res.json() as User;
}
```"""

REPO_DUMP = """==> api/server.py <==
from fastapi import FastAPI
==> api/routes/users.py <==
def list_users(): ...
==> worker/jobs.py <==
def nightly(): ...
==> worker/mail.py <==
def send(): ..."""

AGENT_SYSTEM = ("You are an autonomous assistant. You can call these tools: search_docs(query), "
                "read_file(path), run_shell(cmd). Think step by step and call one tool at a "
                "time.")

CODER_SYSTEM = ("You are a senior software engineer working in the user's repository. Make "
                "minimal, correct changes and explain them briefly.")

DRAFT_POST = """Three months ago I moved our inference off the cloud. This is what happened
to the bill, the latency and my weekends. Spoiler: the weekends lost."""

DEV: dict[str, list[list[dict]]] = {
    "classify": [
        user(f"which queue does this go to: billing, tech or sales?\n{TICKET}"),
        user("mood of this review, one word: 'Took forever to arrive and the lid was cracked.'"),
        user("Is this email a newsletter, a receipt or personal?\n" + MAIL),
        user("P1, P2 or P3? 'checkout returns 500 for every EU customer since 09:10'"),
        user("tag each headline as tech/politics/sport:\n- Apple ships M5\n- Election called "
             "for May\n- Arsenal sign keeper"),
        user("Does this comment break our rules? Reply allowed or removed.\n'you people are "
             "idiots, uninstall this garbage'"),
        chat([("user", "I'll paste support messages one by one, you tell me the team."),
              ("assistant", "Sure, paste the first one."),
              ("user", TICKET)]),
        user("Bucket these transactions into groceries, transport, rent or other:\nTESCO "
             "23.10\nUBER 12.40\nLANDLORD SO 950.00\nSTEAM 19.99"),
        user("human or bot? 'Congratulations!!! You won a free iPhone, click here now'"),
        user("Decide if this PR title is a feature, a fix or a chore: 'bump ruff to 0.6'"),
    ],
    "extract": [
        user(f"pull the order number, ship date and total from this:\n{MAIL}"),
        user(f"action items from these notes, with owners:\n{NOTES}"),
        user(f"list the titles and links in this feed\n{FEED}"),
        user(f"who, what, when — from this mail:\n{MAIL}"),
        user("Grab every IP address from this log\n" + SYSLOG),
        user(f"Give me the address only.\n{MAIL}"),
        user(f"Return JSON with fields order_id, items, total:\n{MAIL}"),
        user(f"What are the TODOs in this file?\n{TODO_FILE}"),
        user("parse: 'Meet Jo at Café Luz, 14 Rua Nova, Thursday 3pm' -> name, place, "
             "address, time"),
        user(f"account number and complaint in one line each\n{TICKET}"),
    ],
    "format": [
        user("make this a markdown table:\nname age\nAna 31\nBen 44"),
        user("snake_case these: userId, createdAt, HTTPStatus"),
        user("sort alphabetically, one per line: zeta, alpha, mu, beta"),
        user("These dates as ISO 8601 please: 3 June 2025, 06/14/2025, 2025.07.01"),
        user("YAML version of this: {\"port\": 8080, \"debug\": false}"),
        user("Turn these notes into a bulleted list\n" + NOTES.replace("- ", "")),
        user("fix the indentation of this json: {\"a\":{\"b\":1,\n\"c\":[1,2]}}"),
        user("CSV from this: Ana - 31 - Lisbon; Ben - 44 - Porto"),
        user("Title Case: the quiet art of routing prompts"),
        user("remove the duplicate lines\nred\nblue\nred\ngreen\nblue"),
    ],
    "summarize": [
        user(f"status line for the dashboard from these cron results:\n{JOBS}"),
        user(f"tl;dr\n{DRAFT_POST}"),
        user(f"one sentence: what happened overnight?\n{SYSLOG}"),
        user(f"boil these notes down to two bullets\n{NOTES}"),
        user("Give me the gist of this thread:\nana: api 2.15 is out\nben: p95 went up 40ms"
             "\nana: rolling back\nben: fixed by reverting the pool size"),
        user(f"Condense for the weekly digest:\n{FEED}"),
        user("digest of today's mails for my phone, 3 lines max:\n" + MAIL + "\n" + TICKET),
        user(f"what's the short version?\n{DRAFT_POST}"),
        chat([("user", f"Here are last night's job results:\n{JOBS}"),
              ("assistant", "Got them."),
              ("user", "sum it up in one line for the team channel")]),
        user("Recap the standup in three lines:\n- Dora fixed the login bug\n- Chidi on "
             "leave\n- release slips to Monday"),
    ],
    "scan": [
        user(f"any errors in here?\n{SYSLOG}"),
        user(f"did any job fail?\n{JOBS}"),
        user(f"Which lines mention sshd?\n{SYSLOG}"),
        user("does this config contain a password or a token?\nhost=db.local\nuser=app\n"
             "password=hunter2"),
        user(f"Flag anything suspicious in this log\n{SYSLOG}"),
        user(f"is order 55-1932 mentioned in this mail?\n{MAIL}"),
        user("do any of these hosts have less than 10% disk free?\nnas 41%\npi 7%\nbox 63%"),
        user(f"spot lines with 'error'\n{SYSLOG}"),
        user("check the results for timeouts:\nrun 1 ok 1.2s\nrun 2 timeout\nrun 3 ok 0.9s"),
        user(f"is there anything in this feed about SQLite?\n{FEED}"),
    ],
    "repo_scan": [
        user(f"map out how this codebase is organised\n{REPO_DUMP}"),
        user("grep all our repos for uses of the deprecated `requests.packages` import"),
        user("Find every place in the monorepo where we read AWS_SECRET_KEY"),
        user("which services in the repo still call the v1 billing API?"),
        user("List all the cron jobs defined anywhere in the project"),
        user(f"Give me a tour of the repo, folder by folder\n{REPO_DUMP}"),
        user("where in the codebase do we build SQL strings by hand?"),
        user("Inventory the Dockerfiles across all our repos and their base images"),
        user("scan the project for functions longer than 100 lines"),
        user(f"what does each module in these files do, one line each?\n{REPO_DUMP}"),
    ],
    "bulk_edit": [
        user("rename `get_user` to `fetch_user` everywhere in the repo"),
        user("Replace print() with logger.info() in all the worker modules"),
        user("bump the python version to 3.12 in every Dockerfile we have"),
        user("update the copyright year to 2025 across all source files"),
        user("change every import of `utils.dates` to `common.dates` in the project"),
        user("add `from __future__ import annotations` to the top of every .py file"),
        user("switch all the services' configs from port 8000 to 8080"),
        user(f"Apply the same timeout=10 change to each of these files\n{REPO_DUMP}"),
        user("strip trailing whitespace in all the markdown docs"),
        user("migrate every unittest.TestCase in tests/ to plain pytest functions"),
    ],
    "boilerplate": [
        user("scaffold a FastAPI app with a health route and a settings module"),
        user("Dockerfile for a Python 3.12 uv project"),
        user("a systemd unit for my backup script, restart on failure"),
        user("Give me a skeleton CLI with argparse: subcommands add, list, remove"),
        user("GitHub Actions workflow that runs pytest on push"),
        user("pydantic models for these fields: id int, name str, tags list of str, "
             "created datetime"),
        user("the usual CRUD endpoints for a `projects` resource, same as the users ones"),
        user("Stub out a React component for a settings page, no logic yet"),
        user("Makefile with install, test, lint and clean targets"),
        user("Create the same serializer we have for Order for Invoice and Refund"),
    ],
    "test_gen": [
        user(f"write pytest tests for this\n{PY_SNIPPET}"),
        user("Generate edge-case inputs for a date parser"),
        user(f"unit tests for getUser, mock fetch\n{TS_SNIPPET}"),
        user("give me 20 fake customer records to load into staging, as CSV"),
        user("test cases for a password validator: min 12 chars, one digit, one symbol"),
        user("property-based tests for a function that reverses a list"),
        user("What inputs would break this?\n" + PY_SNIPPET),
        user("Write a table-driven Go test for ParseDuration"),
        user("Add tests covering the error paths of load()\n" + PY_SNIPPET),
        user("sample JSON payloads to test our webhook handler: success, failure, retry"),
    ],
    "chat": [
        user("what's the difference between a mutex and a semaphore, roughly?"),
        user("thoughts on whether I should learn Rust or Go next?"),
        user("Good morning! Anything fun to do in Porto on a rainy Sunday?"),
        user("How does a bloom filter work? Keep it simple."),
        chat([("user", "I'm trying to pick a laptop for travel."),
              ("assistant", "What matters most: weight, battery or power?"),
              ("user", "battery, and it must run Linux well")]),
        user("why is my sourdough so dense?"),
        user("Can you explain what a vector database is for?"),
        user("ok so what would you do in my place, take the job or stay?"),
        user("is it worth paying for a password manager?"),
        user("Tell me a bit about the history of the Unix shell"),
    ],
    "orchestrate": [
        agent(AGENT_SYSTEM, "Find out why last night's backup failed and tell me.",
              [("run_shell", {"cmd": "journalctl -u backup --since yesterday"},
                "error: lstat /srv/tmp/socket: no such file or directory")]),
        user("Break this down into steps I can hand to three agents: migrate the blog from "
             "WordPress to a static site"),
        user("plan the tool calls: get the weather in Lisbon, then book a table if it's dry"),
        user("You have a researcher, a coder and a reviewer agent. Who does what to ship a "
             "CSV export feature?"),
        agent(AGENT_SYSTEM, "Summarise the open issues about login and draft a reply to each.",
              [("search_docs", {"query": "login issues"}, "3 results: #12, #19, #23")],
              follow_up="ok, what next?"),
        user("decide which of these subtasks can run in parallel: fetch data, clean it, train "
             "model, write report"),
        user("As the supervisor, route this request to the right worker: 'refund order 88'"),
        user("Draft an execution plan with checkpoints for moving our DNS to a new provider"),
        user("what should the agent do next given it has the file list but not the contents?"),
        user("Coordinate: the scraper returns HTML, the parser needs JSON, the loader wants "
             "CSV. Outline the pipeline steps."),
    ],
    "code": [
        user(f"why does this crash under load?\n{GO_RACE}"),
        user(f"fix this failing test\n{PY_TEST_FAIL}"),
        user("a ring buffer in Rust with push and pop, no allocation after new()"),
        user("SQL to find customers who ordered every month this year"),
        user("Implement an LRU cache in TypeScript"),
        user("debounce function in JavaScript please"),
        user(f"make this async\n{PY_SNIPPET}"),
        user("how do I parse a date with a timezone in Go? code please"),
        chat([("user", "My script should read a CSV and sum the amount column."),
              ("assistant", "Which language?"), ("user", "python, and skip bad rows")]),
        user("regex that matches an IPv4 address"),
    ],
    "code_review": [
        user(f"review this\n{PY_SNIPPET}"),
        user(f"anything wrong with this handler?\n{GO_RACE}"),
        user(f"is this safe? {TS_SNIPPET}"),
        user("Look over my PR: it swaps the ORM for raw SQL in the reports module"),
        user(f"what would you change here?\n{PY_SNIPPET}"),
        user(f"critique the error handling\n{TS_SNIPPET}"),
        user("give feedback on this diff\n```diff\n-    timeout=None\n+    timeout=30\n```"),
        user(f"code smells?\n{TODO_FILE}"),
        user(f"Is this idiomatic Go?\n{GO_RACE}"),
        user(f"spot the bug\n{PY_SNIPPET}"),
    ],
    "writing": [
        user("write the PRD for offline sync in our notes app"),
        user("compose a eulogy for my grandfather, a fisherman who loved crosswords"),
        user("plan the roadmap for next year: mobile app, billing v2, EU hosting"),
        user("a blog post about moving our inference home, for our users"),
        user("Draft a cover letter for a staff engineer role at a climate startup"),
        user("Write the launch announcement for tierd 2.0"),
        user("short story: a lighthouse keeper who receives letters from the future"),
        user("Write our engineering values page"),
        user("a wedding toast for my sister, funny but not embarrassing"),
        user(f"turn this intro into a full essay\n{DRAFT_POST}"),
    ],
    "architecture": [
        user("Postgres or SQLite for a single-box app with 50 users?"),
        user("How would you design the sync protocol for an offline-first notes app?"),
        user("monolith or microservices for a team of four?"),
        user("we need to handle 5k events a second — Kafka, NATS or Redis streams?"),
        user("design the data model for a multi-tenant invoicing system"),
        user("What's the right way to split our API into services as we grow?"),
        user("how should we structure caching across the web tier and the workers?"),
        user("Propose a deployment topology for two regions with failover"),
        user("queue or cron for our nightly jobs, and why?"),
        user("where should auth live, in each service or a gateway?"),
    ],
    "final_review": [
        user(f"last read before I publish, anything off?\n{DRAFT_POST}"),
        user("proofread my cover letter please:\nDear team, I am writting to apply..."),
        user("final check on the release notes before they go out:\n## 2.4\n- faster "
             "search\n- fixed login"),
        user(f"is this ready to send to the board?\n{DRAFT_POST}"),
        user("Sanity-check the announcement email before I hit send:\nSubject: We're "
             "moving!\nHi all, from June we are at..."),
        user("typos or grammar issues? 'Their going to review it tomorow.'"),
        user(f"sign-off review of this post, be strict\n{DRAFT_POST}"),
        user("One more pass on the landing page copy before launch: 'Route smarter. Pay "
             "less.'"),
        user(f"Double-check the facts and tone of this before it goes live\n{DRAFT_POST}"),
        user("QA the newsletter before it ships to 3,000 people:\nHello friends, this "
             "month..."),
    ],
}
