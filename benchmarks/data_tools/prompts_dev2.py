"""The second development set: prompts written after the first one (prompts_dev.py) was used up
writing the current rules, for the decisions that bring the replayed day's cost down.

Written from the task definitions alone (README "How a prompt finds its task",
tierd.routing.tasks, the users' rule: does a human read the output, and does it need thinking
or only scanning?), never from the test part, and before any rule was changed for it. It leans
on the local tier's grunt work in the shapes it arrives in: cron jobs over pasted logs, feeds,
JSON, diffs, source files and CSV; extraction, classification, status lines, TODO lists and
triage over material that holds code, a long document, or the words of other tasks
("analyse", "review", "architecture", "debug", "fix", "design"); agent-framework system
prompts (LangChain, CrewAI, AutoGen, LlamaIndex) and multi-turn histories. Every other tier
has enough prompts to catch a change that sends real code, writing or design work down.
`make_dev.py` writes them to benchmarks/data/routing_dev2.jsonl.
"""

from __future__ import annotations

from materials_dev2 import (
    ATOM_FEED,
    AUDIT,
    AUTOGEN_ASSISTANT,
    CHANGELOG,
    CODING_AGENT,
    CREWAI_ANALYST,
    CREWAI_WRITER,
    CRON_RESULTS,
    DESIGN_DOC,
    DIFF,
    ESSAY,
    GO_HANDLER,
    GO_RACE,
    INVOICE_MAIL,
    JAVA_TRACE,
    JOURNAL,
    JSON_FEED,
    K8S_PODS,
    LANGCHAIN_REACT,
    LLAMAINDEX_SYSTEM,
    MEETING,
    NGINX_LOG,
    ORDERS_CSV,
    POSTMORTEM,
    PR_JSON,
    PY_MODULE,
    PY_PARSE,
    PYTEST_RUN,
    REPO_FILES,
    REVIEW_THREAD,
    RUST_QUEUE,
    SENTRY_EVENT,
    SLACK,
    SUPPORT_BOT,
    TF_PLAN,
    TICKETS,
    TREE,
    TS_COMPONENT,
)
from shapes import agent, chat, user

DEV2: dict[str, list[list[dict]]] = {
    "classify": [
        user(f"Triage this crash: is it a config problem, a code bug or an infrastructure "
             f"outage? One word.\n{JAVA_TRACE}"),
        user(f"For each PR below answer feature, fix, refactor, docs or tests.\n{PR_JSON}"),
        user(f"Label each ticket bug, question, billing or feature_request, one per line as "
             f"#id: label.\n{TICKETS}"),
        user("Is this review comment blocking or a nit? 'naming: prefer lease_count over lc'"),
        user(f"Does this essay argue for or against remote work? Answer for, against or "
             f"neutral.\n{ESSAY}"),
        user(f"Severity of this event, critical/high/medium/low, nothing else:\n{SENTRY_EVENT}"),
        user(f"Which team owns this alert — platform, data or web?\n{K8S_PODS}"),
        user(f"What language is this file written in? Just the name.\n{RUST_QUEUE}"),
        user(f"Categorise the change in this diff as breaking, minor or patch for semver.\n{DIFF}"),
        user(f"You are a triage bot for our issue tracker.\nCurrent Task: decide whether "
             f"this message is a bug report, a support question or spam. Reply with the "
             f"label only.\n\nMessage: {TICKETS.splitlines()[0]}", system=CREWAI_ANALYST),
        chat([("user", "I'm going to paste commit messages, tell me for each if it's a "
                       "feat, fix or chore. Only the word."),
              ("assistant", "Got it, paste away."),
              ("user", "Fix deadlock in the architecture review tool's debug mode")]),
        chat([("user", "sort my inbox: for each subject say work, personal or newsletter"),
              ("assistant", "Sure, send the subjects."),
              ("user", "1. Design review moved to Thursday\n2. Your Strava weekly digest\n3. "
                       "Dinner on Sunday?")]),
        user("Sentiment of each line (positive/negative/neutral):\n- the new architecture is "
             "so much faster\n- debugging this is a nightmare\n- the code review took a day",
             system=AUTOGEN_ASSISTANT),
        user(f"Is this log from a healthy nightly run? healthy / degraded / failed\n{JOURNAL}"),
        user("Spam or not spam: 'URGENT: your code review account will be suspended, verify "
             "here: http://rev1ew.example'"),
        user(f"priority for the on-call (P1-P4) of each failing job here:\n{CRON_RESULTS}"),
        user("Tag this question with one of [billing, hosting, domains, email]: 'My MX "
             "records vanished after I moved the domain'", system=SUPPORT_BOT),
        user("Is the following sentence formal or informal? 'gonna need that design doc by "
             "eod lol'"),
    ],
    "extract": [
        user(f"List the TODOs in this Rust file with their line numbers.\n{RUST_QUEUE}"),
        user(f"list every TODO and FIXME in this file, with the owner if it names one\n"
             f"{GO_HANDLER}"),
        user(f"Give me the names of the failing tests from this run, one per line.\n"
             f"{PYTEST_RUN}"),
        user(f"Extract the exception class, message and the top frame (file:line) as JSON.\n"
             f"{JAVA_TRACE}"),
        user(f"From the audit output, give me package, installed version and the fixed "
             f"version as CSV.\n{AUDIT}"),
        user(f"Pull out the decisions and their owners from this design review.\n"
             f"{DESIGN_DOC}"),
        user(f"What are the open questions in this doc? Copy them out, nothing else.\n"
             f"{DESIGN_DOC}"),
        user(f"action items from the postmortem as a JSON array of {{owner, task, due}}\n"
             f"{POSTMORTEM}"),
        user(f"Extract invoice number, amount due, due date and IBAN from this email.\n"
             f"{INVOICE_MAIL}"),
        user(f"From the meeting notes: who committed to what, and by when?\n{MEETING}"),
        user(f"Give me the title and url of every item in this feed as a JSON list.\n"
             f"{JSON_FEED}"),
        user(f"Extract the version numbers and release dates from this changelog.\n"
             f"{CHANGELOG}"),
        user(f"Which pods are not Running? Give name and status as JSON.\n{K8S_PODS}"),
        user(f"Get the hostnames and URLs the code calls out to.\n{PY_MODULE}"),
        user(f"From the review thread, list what jon promised to do.\n{REVIEW_THREAD}"),
        agent(LANGCHAIN_REACT, "Question: what are the function names defined in "
              "src/lease.go?",
              [("read_file", {"path": "src/lease.go"},
                "package lease\n\nfunc Acquire(ctx context.Context, m string) (*Lease, error) "
                "{...}\nfunc (l *Lease) Release() {...}\nfunc sweep(now time.Time) {...}")]),
        user(f"Current Task: extract every release tag and its date from the changelog below."
             f"\n\n{CHANGELOG}", system=CREWAI_ANALYST),
        chat([("user", f"here's yesterday's standup chat:\n{SLACK}"),
              ("assistant", "Thanks, what would you like me to do with it?"),
              ("user", "just pull out the config files that were changed and who changed "
                       "them")]),
        user(f"Context information is below.\n---------------------\n{POSTMORTEM}\n"
             f"---------------------\nQuery: list the timestamps and events of the timeline "
             f"as JSON.", system=LLAMAINDEX_SYSTEM),
    ],
    "format": [
        user(f"Convert this JSON to YAML, keep the key order.\n{PR_JSON}"),
        user(f"Turn this CSV into a markdown table.\n{ORDERS_CSV}"),
        user("sort these imports alphabetically and group stdlib first, don't change "
             "anything else:\nimport requests\nimport os\nfrom app.db import session\nimport "
             "json\nfrom app.auth import require_user"),
        user(f"Reformat the timestamps in this log to ISO 8601 UTC, leave the rest untouched."
             f"\n{NGINX_LOG}"),
        user("pretty-print this: {\"architecture\":\"arm64\",\"debug\":false,\"review\":"
             "{\"required\":2,\"codeowners\":true}}"),
        user(f"Put the review comments below into a bulleted list, one per person, same "
             f"words.\n{REVIEW_THREAD}"),
        user(f"Convert this changelog to Keep a Changelog format.\n{CHANGELOG}"),
        user(f"Make this pod list a CSV.\n{K8S_PODS}"),
        user("Rewrite these function names in snake_case: parseDuration, fetchOrders, "
             "analyseArchitecture, debugDump"),
        user(f"Wrap this essay at 72 columns, don't change a word.\n{ESSAY}"),
        chat([("user", f"{ORDERS_CSV}"),
              ("assistant", "This looks like an orders export with six columns. What do you "
                            "need?"),
              ("user", "same data as JSON lines please, one object per row")]),
        user("title case each heading:\n## design review notes\n## how we debug the "
             "scheduler\n## architecture decisions"),
        user(f"Dedupe the rows of this CSV and sort by total, descending.\n{ORDERS_CSV}"),
        user("Normalise these durations to seconds: 1h30m, 45s, 2m, 1h"),
        user(f"Format the meeting notes as a table with columns person and said.\n{MEETING}"),
    ],
    "summarize": [
        user(f"Status line for the dashboard from these cron results, 80 characters max.\n"
             f"{CRON_RESULTS}"),
        user(f"One-line commit message for this diff.\n{DIFF}"),
        user(f"Summarize this design review in three bullets for people who missed it.\n"
             f"{DESIGN_DOC}"),
        user(f"tl;dr of the postmortem for the #incidents channel\n{POSTMORTEM}"),
        user(f"Two sentences on what this Rust file does, for the code index.\n{RUST_QUEUE}"),
        user(f"What did the nightly job do? One short paragraph.\n{JOURNAL}"),
        user(f"Summarize the test run: how many passed, failed, errored.\n{PYTEST_RUN}"),
        user(f"Summarise the review thread — where did it land?\n{REVIEW_THREAD}"),
        user(f"Digest of today's feed, one line per item.\n{ATOM_FEED}"),
        user(f"Write a short summary of this Go handler for the API docs index.\n{GO_HANDLER}"),
        user(f"Summarize the changes in this PR in one sentence for the changelog.\n{DIFF}"),
        user(f"Current Task: write the one-line on-call summary of the cluster state.\n\n"
             f"{K8S_PODS}", system=CREWAI_ANALYST),
        agent(LANGCHAIN_REACT, "Question: summarize what the nightly index job logged",
              [("read_file", {"path": "/var/log/tierd/nightly.log"}, JOURNAL)]),
        chat([("user", f"{SLACK}"),
              ("assistant", "That's a conversation about the staging database's disk. Want "
                            "me to do something with it?"),
              ("user", "yeah sum it up in a sentence for the status page")]),
        user(f"Recap of the meeting in a few lines.\n{MEETING}"),
        user(f"What's this essay's main point, in one sentence?\n{ESSAY}"),
        user(f"Condense the terraform plan into one line I can paste in the PR.\n{TF_PLAN}"),
        user(f"Summarize the security audit for the weekly report: how many packages, how "
             f"bad.\n{AUDIT}"),
        user(f"Describe in two sentences what this module does for our code search index.\n"
             f"{PY_MODULE}"),
    ],
    "scan": [
        user(f"Any 5xx in this access log? Yes or no, and the lines if yes.\n{NGINX_LOG}"),
        user(f"Does this diff touch any migration files?\n{DIFF}"),
        user(f"Is there a hardcoded secret or API key in this file?\n{PY_MODULE}"),
        user(f"Check this terraform plan: is anything being destroyed?\n{TF_PLAN}"),
        user(f"Are there duplicate order ids in this CSV?\n{ORDERS_CSV}"),
        user(f"Flag any line that points to a failing disk or memory trouble.\n{JOURNAL}"),
        user(f"watchlist: does today's feed mention ollama, sqlite or proxmox? matching titles "
             f"only\n{ATOM_FEED}"),
        user(f"Any DEBUG lines left in this production log?\n{JOURNAL}"),
        user(f"Does this component still have a console.log in it?\n{TS_COMPONENT}"),
        user(f"Did any cron job fail last night?\n{CRON_RESULTS}"),
        user(f"Is any pod in CrashLoopBackOff?\n{K8S_PODS}"),
        user(f"Does this code review thread mention tests anywhere?\n{REVIEW_THREAD}"),
        user(f"Which of these packages have a fix available in a 2.x release?\n{AUDIT}"),
        user(f"Any rows with a missing email or a negative total?\n{ORDERS_CSV}"),
        user(f"You are a log watcher. Reply OK when nothing needs attention, otherwise the "
             f"lines that do.\n\n{NGINX_LOG}", system=CREWAI_ANALYST),
        user(f"Does the postmortem mention a rollback?\n{POSTMORTEM}", system=AUTOGEN_ASSISTANT),
        chat([("user", f"{JOURNAL}"),
              ("assistant", "This is a systemd journal from the nightly rebuild. What should "
                            "I look for?"),
              ("user", "anything about the OOM killer?")]),
        agent(LANGCHAIN_REACT, "Question: does requirements.txt pin any package below the "
              "fixed versions in the audit?",
              [("read_file", {"path": "requirements.txt"},
                "jinja2==3.1.2\nurllib3==2.0.7\ncryptography==41.0.6\nrequests==2.31.0")]),
        user(f"Is the word 'deprecated' anywhere in this changelog? just yes or no\n"
             f"{CHANGELOG}"),
    ],
    "repo_scan": [
        user(f"Map this codebase: every package, and which package imports which.\n"
             f"{REPO_FILES}"),
        user("Across all 40 of our repos, which ones still call requests without a timeout?"),
        user(f"Find every TODO across the whole repo and group them by owner.\n{TREE}",
             system=CODING_AGENT),
        user("Which services read the DATABASE_URL environment variable, and in which files? "
             "Search the whole monorepo."),
        user(f"Go through these files and tell me where the database session is created and "
             f"which modules use it.\n{REPO_FILES}"),
        user("List every Dockerfile in the repository with its base image.",
             system=CODING_AGENT),
        user("Survey our repos: which CI system each one uses and which Python version it "
             "tests on."),
    ],
    "bulk_edit": [
        user("Rename the Lease class to Reservation across the whole repo, tests and docs "
             "included.", system=CODING_AGENT),
        user("Replace every print( call with logger.debug( in all the modules under app/."),
        user("Update the license header in every source file from Apache-2.0 to MIT."),
        user("Change the import from services.shared.db to services.common.db in all of "
             f"these files.\n{REPO_FILES}"),
        user("In every package.json of the monorepo, bump typescript to ^5.6."),
        user("Swap the deprecated datetime.utcnow() for datetime.now(UTC) across the codebase, "
             "adding the import where needed."),
        user("Add `from __future__ import annotations` at the top of every Python file in "
             "src/.", system=CODING_AGENT),
    ],
    "boilerplate": [
        user("Dockerfile for a Go 1.23 service like our others: multi-stage, distroless, "
             "non-root, port 8080."),
        user("Scaffold a new FastAPI service: pyproject.toml, src layout, a health route, a "
             "test and a Makefile."),
        user("CRUD endpoints for Tenant and Quota, following exactly the pattern of the Job "
             f"handler below.\n{GO_HANDLER}"),
        user("A systemd unit that runs /usr/local/bin/tierd serve as user tierd, restarting on "
             "failure."),
        user("Pydantic models for this event payload, nested ones too.\n" + SENTRY_EVENT),
        user("GitHub Actions workflow with the usual lint, test and build jobs for a Python "
             "package."),
        user("Generate the same String() method for the other enums in the package: State "
             "(Queued, Running, Done), Kind (Embed, Chat)."),
    ],
    "test_gen": [
        user(f"Write pytest tests for parse_duration, edge cases included.\n{PY_PARSE}"),
        user("Generate 25 test inputs for an IBAN validator, valid and invalid, each with the "
             "expected result."),
        user(f"Unit tests for the JobQueue: push, pop on empty, and concurrent pushes.\n"
             f"{RUST_QUEUE}"),
        user("Add table-driven tests for the Invoices handler: db error, empty list, one "
             f"tenant.\n{GO_HANDLER}"),
        user("Jest tests for the Inbox component: loading, empty inbox, 600 items.\n"
             f"{TS_COMPONENT}"),
        user("Mock data: 50 fake customers with names, emails and countries as JSON, for the "
             "staging DB."),
        user("Write regression tests for the tax bug this diff fixes.\n" + DIFF),
    ],
    "chat": [
        user("What's the difference between a process and a thread, in plain words?"),
        user("hey, is it worth learning Rust in 2026 if I mostly write Python?"),
        user("Why do people say 'it's always DNS'?"),
        user("What does CPU architecture mean — like, why can't my M4 run x86 apps natively?"),
        chat([("user", "I finally got the home server running!"),
              ("assistant", "Congratulations! What are you running on it?"),
              ("user", "ollama and a photo library. any fun ideas what else I could do with "
                       "it?")]),
        user("Can you explain what a code review is for, to someone who just joined a team?"),
        user("How long should I let bread dough rise in a cold kitchen?"),
        user("Do you have any tips for debugging when I'm tired? I keep making silly "
             "mistakes late at night."),
        user("My site is down and customers are asking — can you help me calm down and think "
             "about what to say to them?", system=SUPPORT_BOT),
        user("What's a good name for a cat that sits on my keyboard all day?"),
        chat([("user", "what's the tallest mountain in Portugal?"),
              ("assistant", "Mount Pico, in the Azores, at 2,351 m."),
              ("user", "and on the mainland?")]),
    ],
    "orchestrate": [
        agent(LANGCHAIN_REACT, "Question: what's the weather in Lisbon tomorrow and should I "
              "take the bike?",
              [("search", {"query": "Lisbon weather tomorrow"},
                "Tomorrow: 19°C, showers in the afternoon, wind 25 km/h")]),
        user("You are the supervisor of three agents: Researcher, Coder and Reviewer. The "
             "Coder has finished the patch and the Reviewer is idle. Who acts next, and with "
             "what instruction?"),
        user("Break 'move our photo library from Google Photos to the NAS' into subtasks with "
             "their order and dependencies."),
        user("I have the tools list_files, read_file, summarize and post_slack. Plan the "
             "sequence of calls to post a digest of the new files in /reports each morning."),
        user("State: deploy step failed with a timeout; retries left 2; last success 3 days "
             "ago. What should the pipeline do next: retry, roll back or page someone?"),
        user("Send the daily sales numbers to the #sales channel.",
             system="You are a helpful assistant with access to the following tools: "
                    "query_db(sql), post_slack(channel, text). Call tools when needed."),
        user("Decompose 'prepare the Q3 board pack' into tasks and assign each to the "
             "analyst agent, the writer agent or me."),
        user("Given fetch.sh, embed.py, index.py and notify.sh, in what order should they run "
             "each night, and what should happen when embed.py fails?"),
        user("The user asked to 'archive last year's invoices'. You have list_dir, move and "
             "zip. Plan it step by step before calling anything."),
    ],
    "code": [
        user(f"Fix the race in this Counter — the counts come out wrong under load.\n"
             f"{GO_RACE}"),
        user("Implement a ring buffer in Rust with push, pop and a fixed capacity, no "
             "allocation after new()."),
        user(f"Why does test_cap_holds_under_concurrency fail? Here's the run; fix the "
             f"budget check.\n{PYTEST_RUN}"),
        user(f"Make this module retry on 429 with exponential backoff and stop leaking the "
             f"API key.\n{PY_MODULE}"),
        user(f"Replace the Mutex in this queue with a lock-free design.\n{RUST_QUEUE}"),
        user("Write a Python function that merges overlapping intervals, with type hints."),
        user(f"The Inbox janks past 500 items. Virtualise the list.\n{TS_COMPONENT}"),
        user(f"Debug this: the handler returns 200 with an empty body when the query fails.\n"
             f"{GO_HANDLER}"),
    ],
    "code_review": [
        user(f"Review this diff before I merge: anything wrong with the tax rounding?\n{DIFF}"),
        user(f"Is this queue safe under concurrent use? Be thorough.\n{RUST_QUEUE}"),
        user(f"Code review please — security, correctness, style.\n{PY_MODULE}"),
        user(f"What's wrong with this handler?\n{GO_HANDLER}"),
        user(f"Can you look over my component? I'm worried about stale state and leaks.\n"
             f"{TS_COMPONENT}"),
        user(f"Review the changes on this branch and list what should block the merge.\n"
             f"{DIFF}", system=CODING_AGENT),
        user(f"Is parse_duration correct? Any inputs that break it?\n{PY_PARSE}"),
        user(f"LGTM? One paragraph, then blocking issues.\n{GO_RACE}"),
    ],
    "writing": [
        user("Write the PRD for tenant quotas in the scheduler: problem, users, requirements, "
             "non-goals, success metrics."),
        user("Compose a eulogy for my grandfather, a fisherman from Nazaré who taught me to "
             "swim. About five minutes spoken."),
        user("Blog post: what we learned running LLMs on a Mac mini for a year. First person, "
             "honest, 1,500 words."),
        user("Current Task: write the launch blog post for the quotas feature, from the "
             "design review below.\n\n" + DESIGN_DOC, system=CREWAI_WRITER),
        user("Draft the user guide page for budgets: concepts, a worked example, "
             "troubleshooting."),
        user("A short story about a night-shift engineer and an AI that keeps paging her, "
             "around 2,500 words."),
    ],
    "architecture": [
        user("Design the architecture for per-tenant quotas in a scheduler that runs on three "
             "hosts: where state lives, how it fails, how it scales."),
        user("SQLite with sqlite-vec or a separate Qdrant for 5M chunks on one box? Trade-offs "
             "please."),
        user("How should we split the billing monolith — by domain or by team? 11 engineers."),
        user("Propose a design for an audit log admins cannot tamper with."),
        user("Event sourcing or plain CRUD tables for our invoicing system? Think it through "
             "with us."),
        user("What's the right way to structure a plugin system so third parties can add "
             "routes and CLI verbs?"),
    ],
    "final_review": [
        user("Final review of the launch post before it goes out tomorrow morning.\n\n"
             + ESSAY),
        user("Proofread my cover letter, I'm sending it tonight."),
        user("Last pass on the postmortem before it's shared company-wide: tone, accuracy, "
             "anything missing?\n\n" + POSTMORTEM),
        user("Is this board update ready to send? Go/no-go with reasons."),
        user("Give the release announcement one last read before we publish."),
        user("Sanity-check the privacy policy changes before they go live."),
    ],
}
