"""The fourth development set: written from the task definitions alone (README, tasks.py, the
issue) before any change it is used to tune, and before the classifier was run on it. It is
heavy on what a day of cron jobs and agents sends: local grunt work over pasted material in
realistic shapes (logs, feeds, JSON, diffs, source files, CSV, long documents), whose material
uses the vocabulary of strong-tier work (architecture, analyse, debug, review, prove, code
fences, stack traces); agent-framework system prompts and multi-turn histories; and enough
frontier, code and cheap-tier prompts, with and without pasted material, to catch a change
that sends real strong-tier work down. `make_dev.py` writes them to
benchmarks/data/routing_dev4.jsonl.
"""

from __future__ import annotations

from materials_dev4 import (
    CHANGELOG,
    CRON_RESULTS,
    DESIGN_DOC,
    DMESG,
    EMAIL_THREAD,
    ESSAY_NOTES,
    GIT_DIFF,
    GO_PANIC,
    ISSUES_JSON,
    JOURNAL,
    KUBECTL_PODS,
    MEETING_NOTES,
    NGINX_LOG,
    PACKAGE_JSON,
    PAPERS,
    PY_MODULE,
    PYTEST_OUT,
    RSS_FEED,
    RUST_FILE,
    SALES_CSV,
    SLACK_EXPORT,
    SQL_SCHEMA,
    SUPPORT_TICKETS,
    TERRAFORM_PLAN,
    TRACEBACK_LOG,
    WIKI_PAGE,
)
from shapes import agent, chat, user

CRON_SYSTEM = ("You are a cron helper. You receive raw output from scheduled jobs and answer "
               "tersely in the format asked. Never add commentary.")
AGENT_SYSTEM = ("You are Atlas, an autonomous assistant built on a tool-calling framework. You "
                "can call the tools listed below. Think step by step, call tools when needed, "
                "and return a final answer to the user.\nTools: read_file(path), "
                "run_shell(cmd), http_get(url), post_slack(channel, text)")

DEV4: dict[str, list[list[dict]]] = {
    "classify": [
        user(f"Triage each ticket as P1, P2 or P3. Answer as '#id: P?' lines.\n{SUPPORT_TICKETS}"),
        user(f"{SUPPORT_TICKETS}\n\nRoute each ticket to billing, support or engineering."),
        user(f"For each feed item, give one category: incidents, architecture, testing, "
             f"releases, jobs.\n{RSS_FEED}"),
        user(f"Label every issue below as bug, question, docs or feature. JSON map of number to "
             f"label.\n{ISSUES_JSON}"),
        user(f"{EMAIL_THREAD}\n\nIs the sender angry, neutral or happy? One word."),
        user(f"Was last night's backup healthy? Answer ok, degraded or failed.\n{JOURNAL}"),
        user(f"{CRON_RESULTS}\n\nOverall status for the night: green, amber or red?"),
        user(f"Classify the severity of this crash: low, medium, high, critical.\n{GO_PANIC}"),
        user(f"Is this terraform plan safe to auto-apply? yes/no\n{TERRAFORM_PLAN}"),
        user(f"Which product line does each order belong to: seats, packs or tools?\n"
             f"{SALES_CSV}"),
        user(f"Tag each paper with its field: math, systems, ml, economics.\n{PAPERS}"),
        user(f"```\n{PYTEST_OUT}\n```\nFlaky or real failure? one word per failed test"),
        user(SUPPORT_TICKETS, system="Classify each support ticket by intent: bug, billing, "
             "how-to, outage, feedback. Output '#id intent' lines only."),
        chat([("user", "I'm going to paste pod listings. For each pod tell me healthy or "
                       "unhealthy, nothing else."),
              ("assistant", "Ready."),
              ("user", KUBECTL_PODS)]),
        user(f"Spam or not spam?\n\n{EMAIL_THREAD}"),
        user(f"Is this diff a breaking change for the public API? yes or no.\n{GIT_DIFF}"),
        agent(AGENT_SYSTEM, "Check the inbox and tell me whether Dana's mail is urgent.",
              [("read_file", {"path": "inbox/latest.eml"}, EMAIL_THREAD)],
              "so: urgent or not urgent? one word"),
        user(f"Give each Slack message a topic label: review, incident, billing, meeting.\n"
             f"{SLACK_EXPORT}"),
        user(f"What language is this source file written in? Just the name.\n{RUST_FILE}"),
    ],
    "extract": [
        user(f"List the TODOs in this file with their owners, one per line.\n{RUST_FILE}"),
        user(f"Extract every TODO, FIXME and HACK comment from this module as JSON "
             f"[{{line, tag, owner, text}}].\n{PY_MODULE}"),
        user(f"Pull the action items out of this RFC: owner, task, due date.\n{DESIGN_DOC}"),
        user(f"{MEETING_NOTES}\n\nAction items with owners please, as a checklist."),
        user(f"Get me the PO number, the amount, the deadline and the sender's phone from this "
             f"mail.\n{EMAIL_THREAD}"),
        user(f"From this feed, extract title, link and date of each item as CSV.\n{RSS_FEED}"),
        user(f"Return JSON with fields number, title, assignee for the open issues only.\n"
             f"{ISSUES_JSON}"),
        user(f"Which files and line numbers appear in this stack trace? file:line list.\n"
             f"{GO_PANIC}"),
        user(f"Pull the exception type, message and the innermost frame from this log.\n"
             f"{TRACEBACK_LOG}"),
        user(f"Grab the names of the failed tests from this pytest run.\n{PYTEST_OUT}"),
        user(f"Extract the resource addresses and the action (create/update/destroy) from this "
             f"plan.\n{TERRAFORM_PLAN}"),
        user(f"List all dependencies with their pinned versions.\n{PACKAGE_JSON}"),
        user(f"Pull the table names and their columns from this schema.\n{SQL_SCHEMA}"),
        user(f"Who is mentioned in these notes and what did each commit to?\n{MEETING_NOTES}"),
        user(f"{CHANGELOG}\n\nextract the issue numbers referenced"),
        user(f"Get the arXiv ids and titles of the papers below, JSON array.\n{PAPERS}"),
        user(DESIGN_DOC, system="Extract metadata from RFC documents. Return JSON with keys "
             "number, title, status, authors, reviewers. No prose."),
        agent(AGENT_SYSTEM, "What's in the nightly sync log? I only need the tenant names.",
              [("run_shell", {"cmd": "tail -n 40 /var/log/worker/sync.log"}, TRACEBACK_LOG)]),
        chat([("user", "Here's our Slack from this morning."),
              ("assistant", "Got it — what should I do with it?"),
              ("user", f"{SLACK_EXPORT}\n\nJust the PR numbers and who reviewed them.")]),
        user(f"Find the IP addresses that got a 5xx in this access log.\n{NGINX_LOG}"),
    ],
    "format": [
        user(f"Convert this CSV to a markdown table.\n{SALES_CSV}"),
        user(f"Turn this issues JSON into YAML, same fields.\n{ISSUES_JSON}"),
        user(f"{KUBECTL_PODS}\n\nas JSON please: name, ready, status, restarts"),
        user(f"Reformat these notes as a bulleted list, keep the wording.\n{MEETING_NOTES}"),
        user(f"Sort these orders by date, newest first, keep it CSV.\n{SALES_CSV}"),
        user(f"Convert the timestamps in this log to ISO 8601, leave everything else as is.\n"
             f"{JOURNAL}"),
        user(f"Render this changelog as HTML (h2/h3/ul only).\n{CHANGELOG}"),
        user(f"Pretty-print this JSON with 2-space indentation.\n{PACKAGE_JSON}"),
        user(f"Rewrite this RSS as a plain text list: date — title — link.\n{RSS_FEED}"),
        user(f"Put these cron results into a table with columns time, job, result, seconds.\n"
             f"{CRON_RESULTS}"),
        user(f"Convert this SQL DDL into a JSON schema-ish description: table -> columns -> "
             f"type.\n{SQL_SCHEMA}"),
        user(f"Fix the indentation of this Python, change nothing else.\n{PY_MODULE}"),
        user(SALES_CSV, system="Convert any CSV you are given into JSON Lines, one object per "
             "row, keys from the header. Output only the JSON Lines."),
        chat([("user", "I'll send a log. Make each line 'HH:MM:SS level message'."),
              ("assistant", "Send it."),
              ("user", TRACEBACK_LOG)]),
        user(f"{SLACK_EXPORT}\n\nturn this into a two-column markdown table: who | message"),
        user(f"Alphabetise the dependency lists in this package.json and keep it valid JSON.\n"
             f"{PACKAGE_JSON}"),
    ],
    "summarize": [
        user(f"Status line for the dashboard, under 80 characters.\n{CRON_RESULTS}"),
        user(f"Summarize this RFC in three bullets for the weekly digest.\n{DESIGN_DOC}"),
        user(f"TL;DR of the meeting, two sentences.\n{MEETING_NOTES}"),
        user(f"{JOURNAL}\n\nOne-line summary of last night for the backup channel."),
        user(f"Summarise this mail for the account manager in one paragraph.\n{EMAIL_THREAD}"),
        user(f"What happened in this sync run? Short answer.\n{TRACEBACK_LOG}"),
        user(f"Give me the gist of this diff for the commit message.\n{GIT_DIFF}"),
        user(f"Summarize this pytest run: how many failed, which, and why, in one line.\n"
             f"{PYTEST_OUT}"),
        user(f"Describe what this Rust file does in two sentences for the code index.\n"
             f"{RUST_FILE}"),
        user(f"Describe what this module does in one sentence.\n{PY_MODULE}"),
        user(f"Key points of this week's feed for the newsletter blurb, 3 bullets.\n{RSS_FEED}"),
        user(f"Recap the Slack morning in a few lines for someone who was out.\n{SLACK_EXPORT}"),
        user(f"{KUBECTL_PODS}\n\nsum up the cluster state in one sentence"),
        user(f"Summarize what this terraform plan will do, one line per resource.\n"
             f"{TERRAFORM_PLAN}"),
        user(f"Condense this onboarding page into 5 bullet points.\n{WIKI_PAGE}"),
        user(CRON_RESULTS, system=CRON_SYSTEM + " Task: one status line per host, under 100 "
             "characters."),
        user(DMESG, system="Summarize kernel logs for a home-lab dashboard: one line, the "
             "worst problem first."),
        agent(AGENT_SYSTEM, "What did the nightly jobs do? Short.",
              [("run_shell", {"cmd": "cat /var/log/cron-summary.txt"}, CRON_RESULTS)]),
        chat([("user", "Can you help me keep up with arXiv?"),
              ("assistant", "Sure, paste today's listing and I'll summarise it."),
              ("user", PAPERS)]),
        user(f"Summarize the changes in 4.19 for the status page, one paragraph.\n{CHANGELOG}"),
    ],
    "scan": [
        user(f"Any 5xx in this access log? yes/no and the count.\n{NGINX_LOG}"),
        user(f"Pick out the error lines from this log.\n{TRACEBACK_LOG}"),
        user(f"{JOURNAL}\n\nflag anything that needs attention"),
        user(f"Does this diff touch the architecture docs?\n{GIT_DIFF}"),
        user(f"Check whether any pod is crash-looping.\n{KUBECTL_PODS}"),
        user(f"Are there any secrets or keys in this file?\n{PY_MODULE}"),
        user(f"Does this terraform plan open SSH to the world? Check the CIDRs.\n"
             f"{TERRAFORM_PLAN}"),
        user(f"Look through the dependencies for known-vulnerable versions (axios < 0.21.2, "
             f"lodash < 4.17.21).\n{PACKAGE_JSON}"),
        user(f"Which lines of this dmesg point to disk trouble?\n{DMESG}"),
        user(f"Did any cron job fail? List them.\n{CRON_RESULTS}"),
        user(f"Is there any chargeback or refund in these orders?\n{SALES_CSV}"),
        user(f"Does the mail mention a deadline? Quote the line.\n{EMAIL_THREAD}"),
        user(f"Scan this feed for anything about outages or incidents.\n{RSS_FEED}"),
        user(f"Does any of these papers claim a proof? Which numbers?\n{PAPERS}"),
        user(NGINX_LOG, system="You watch access logs. Reply ALERT with the offending lines if "
             "you see scanners, brute force or 5xx bursts; otherwise reply OK."),
        agent(AGENT_SYSTEM, "Check the prod pods and tell me if anything is unhealthy.",
              [("run_shell", {"cmd": "kubectl get pods -n prod"}, KUBECTL_PODS)]),
        chat([("user", "Watch this test output for me and tell me if any scheduler test "
                       "failed."),
              ("assistant", "Paste it."),
              ("user", PYTEST_OUT)]),
        user(f"{SLACK_EXPORT}\n\nDid anyone report a production problem this morning?"),
        user(f"Is there a panic in this output? If so which function.\n{GO_PANIC}"),
        user(f"Any unmodified files count over 400k in this backup log? Quick check.\n"
             f"{JOURNAL}"),
    ],
    "repo_scan": [
        user("Go through the whole repo and list every module that imports billing.db "
             "directly instead of through the service layer."),
        user("Map the monorepo: one line per top-level package saying what it does."),
        user("Find every place in the codebase where we read EXPORT_DEBUG or any *_DEBUG "
             "env var."),
    ],
    "bulk_edit": [
        user("Rename ring::Ring to ring::SpscRing across the whole repo, including docs and "
             "the changelog."),
        user("Replace every use of lodash.get with optional chaining in all the .ts files "
             "under src/."),
        user("Bump axios to 1.7.2 in every package.json in the monorepo."),
    ],
    "boilerplate": [
        user("Scaffold a new FastAPI service the same way as our billing service: settings, "
             "health route, Dockerfile, Makefile."),
        user("systemd unit file for the restic prune job, runs weekly after the backup."),
        user(f"Generate the SQLAlchemy models for these tables.\n{SQL_SCHEMA}"),
    ],
    "test_gen": [
        user(f"Write pytest unit tests for export() and analyse_outliers(), including trial "
             f"tenants with qty None.\n{PY_MODULE}"),
        user(f"Add tests for Ring: full buffer, empty pop, wrap-around.\n{RUST_FILE}"),
        user("Generate 20 edge-case inputs for our CSV parser: quoting, BOMs, CRLF, empty "
             "fields."),
    ],
    "chat": [
        user("What's a good way to explain the difference between latency and throughput to "
             "a non-engineer?"),
        user("Is it worth learning Rust in 2026 if I mostly write Python?"),
        chat([("user", "We got our first enterprise customer today!"),
              ("assistant", "Congratulations! That's a big milestone."),
              ("user", "thanks! any advice on what usually goes wrong in the first month?")]),
        user("how do you pronounce 'nginx'?"),
        user("My manager asked me to 'own the roadmap'. What does that usually mean in "
             "practice?"),
        chat([("user", "I'm preparing for the system design interview on Friday."),
              ("assistant", "Nice — what kind of company is it?"),
              ("user", "fintech. honestly I'm just nervous, how do people calm down before "
                       "these?")]),
        user("Recommend a couple of podcasts about distributed systems for my commute."),
        user("What does 'at-least-once delivery' mean?"),
    ],
    "orchestrate": [
        agent(AGENT_SYSTEM, "The review-bot pod keeps crashing. Find out why and tell #ops.",
              [("run_shell", {"cmd": "kubectl get pods -n prod"}, KUBECTL_PODS)],
              "ok, what should you do next?"),
        user("You coordinate three agents: Collector (reads logs), Analyst, Notifier. The "
             "nightly tests failed. Plan who does what, in what order."),
        user("Break this into sub-tasks for the worker agents: migrate the job queue to "
             "partitioned tables, with a rollback plan and a load test."),
        user("I have tools search_issues, read_file, comment. Which tools should I call, and "
             "in what order, to answer 'is #4471 fixed in 4.19'?"),
        chat([("user", "You are the planner. Goal: publish the 4.19 release notes."),
              ("assistant", "Steps: 1) collect merged PRs 2) draft notes 3) review 4) post."),
              ("user", "step 1 returned 14 PRs, step 2 is drafted. What runs next?")],
             system="You are a planning agent. Decide the next step; workers execute."),
        user("Should the agent retry the prune job now or wait for the backup lock to be "
             "released? Decide and give the next action.", system=AGENT_SYSTEM),
    ],
    "code": [
        user(f"Why does this test fail and how do I fix it?\n{PYTEST_OUT}"),
        user(f"Fix the panic in parser.go:212. Here's the trace; the field() function indexes "
             f"p.cols[i] without a bounds check.\n{GO_PANIC}"),
        user(f"Implement len() and is_full() for this ring buffer, lock-free, and make cap a "
             f"power of two.\n{RUST_FILE}"),
        user(f"Fix the FIXME in export(): write an empty amount for None qty, and cache "
             f"price_of per run.\n{PY_MODULE}"),
        user("Write a Python function that tails a log file and yields complete lines, "
             "handling rotation."),
        user(f"Our nightly sync crashes with this KeyError. Patch normalise() so records "
             f"without a rating are skipped and counted.\n{TRACEBACK_LOG}"),
        user("Debug this: my asyncio worker hangs forever after the first cancelled task. "
             "What's the usual cause and the fix?"),
    ],
    "code_review": [
        user(f"Review this diff before I merge it.\n{GIT_DIFF}"),
        user(f"Review this Rust for memory-ordering bugs; is it actually safe as SPSC?\n"
             f"{RUST_FILE}"),
        user(f"Code review please: anything wrong with this export module?\n{PY_MODULE}"),
        user("Can you look over my PR? It switches the retry policy to exponential backoff "
             "with jitter and caps it at 5 attempts. Worried about the thundering herd."),
        user(f"Any issues with this schema? Indexes, constraints, types.\n{SQL_SCHEMA}"),
    ],
    "writing": [
        user(f"Write the founder's story for our 'About us' page from these notes, around "
             f"900 words, warm but not cheesy.\n{ESSAY_NOTES}"),
        user(f"Turn this RFC into a blog post for our engineering blog explaining why we "
             f"stayed on Postgres. 1,500 words.\n{DESIGN_DOC}"),
        user("Write the PRD for per-tenant quotas: problem, goals, non-goals, user stories, "
             "metrics, rollout."),
        user("Compose a eulogy for my grandfather, a fisherman from Vigo who taught me chess."),
        user(f"Draft the postmortem for the 31 May queue outage from the notes below: "
             f"timeline, root cause, impact, what we'll change.\n{MEETING_NOTES}"),
        user("Write a long-form essay on why boring technology wins, with examples from "
             "databases and queues."),
        user(f"Write the launch announcement for 4.19 from this changelog, for customers, "
             f"with a headline and three sections.\n{CHANGELOG}"),
        user("I need a keynote script for our user conference, 20 minutes, about the road "
             "from 40 stores to 1,200 customers."),
        chat([("user", "I'm writing a cover letter for a staff engineer role at a storage "
                       "company."),
              ("assistant", "Happy to help. What should it emphasise?"),
              ("user", "my on-call years and the Postgres migration. write the full letter, "
                       "one page.")]),
        user(f"Write the onboarding guide for new engineers joining the review pipeline team, "
             f"expanding this page into a proper guide with sections.\n{WIKI_PAGE}"),
    ],
    "architecture": [
        user(f"Given this RFC, design the migration path to Kafka for Q1 2027: topology, "
             f"ordering guarantees, exactly-once for billing, and how we cut over without "
             f"downtime.\n{DESIGN_DOC}"),
        user("Design a multi-region active-active setup for our Postgres-backed API on a "
             "small budget. Trade-offs please."),
        user(f"From these notes: should the gateway be its own service or stay in the "
             f"monolith? Weigh both and recommend.\n{MEETING_NOTES}"),
        user("Analyse in depth whether we should build our own job scheduler or adopt "
             "Temporal, for a 6-person team running 2k jobs per second."),
        user(f"Here's our schema. How should we partition and shard it to get to 50k "
             f"writes per second?\n{SQL_SCHEMA}"),
        user("What's the right architecture for an offline-first mobile app that syncs "
             "reviews, with conflict resolution?"),
        user("Prove or refute: with at-least-once delivery and idempotency keys stored in the "
             "same transaction as the effect, billing jobs are effectively exactly-once. "
             "Consider crashes at every step."),
        user(f"Looking at this pipeline description, propose a target architecture that "
             f"lets stages scale independently, and the failure modes of each option.\n"
             f"{WIKI_PAGE}"),
        user("Redis Streams or NATS JetStream for a 10k messages per second event bus? We "
             "need replay and consumer groups."),
    ],
    "final_review": [
        user(f"Final proofread before this goes on the blog tonight: typos, grammar, "
             f"anything embarrassing.\n{WIKI_PAGE}"),
        user(f"Last pass on the release notes before we publish. Is it ready?\n{CHANGELOG}"),
        user(f"Sanity-check this reply to Dana before I hit send:\n\nHi Dana, apologies for "
             f"the delay. The architecture review will be delivered by 9 June, and we have "
             f"corrected the invoice.\n\nOriginal mail:\n{EMAIL_THREAD}"),
        user("Final review of our investor update before it goes out tomorrow: tone, "
             "accuracy, anything we shouldn't say. (pasted below)\n\nQ2 was our best quarter: "
             "revenue up 31 %, churn down to 1.2 %, and we closed our first enterprise deal. "
             "We are hiring two staff engineers and opening Lisbon in September."),
        user(f"Is this RFC ready to send to the whole company? Final check for clarity and "
             f"mistakes.\n{DESIGN_DOC}"),
        user("One last read of my conference abstract before I submit: 'Boring queues: three "
             "years of Postgres as a job queue, and why we stayed.' Anything to fix?"),
        user(f"Proofread the postmortem before it goes public.\n{MEETING_NOTES}"),
        user("Double-check the wording of our terms-of-service change email before it goes "
             "out to 1,200 customers: 'From 1 July, we will bill quotas per tenant.'"),
    ],
}
