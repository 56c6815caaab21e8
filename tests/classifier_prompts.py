"""The first labelled prompts of the routing classifier, kept as a regression set: (task,
messages) pairs. Its rules were written against these, so they are no measure of accuracy;
src/tierd/routing/data/prompts.jsonl (and its test part) is.

Written from the users' day (DESIGN.md): cron extraction over mail and logs, nightly repo
summaries, triage, and the handful of human-read calls (code, writing, architecture, review).
Some are deliberately awkward — a pasted document full of words that belong to another task,
a formatting request about code, a chat question that mentions code.
"""

from __future__ import annotations

_LOG = "\n".join(
    f"2025-03-0{d} 04:0{d}:11 INFO indexer: repo-{d} rebuilt, 1{d}2 chunks, summary written"
    for d in range(1, 8))

_ARTICLE = (
    "The architecture of the new billing system moved from a monolith to three services. "
    "In our summary of the quarter we classify incidents by severity and extract lessons. "
    * 12)

_DIFF = """```diff
-    for i in range(len(items)):
-        total += items[i].price
+    total = sum(item.price for item in items)
```"""

_CODE = """```python
def load(path):
    data = open(path).read()
    return json.loads(data)

for p in paths:
    print(load(p)["name"])
```"""


def user(text: str, system: str = "") -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": text}]


LABELLED: list[tuple[str, list[dict]]] = [
    # classify
    ("classify", user("Classify this support ticket as billing, bug, or feature request:\n"
                      "'I was charged twice for March.'")),
    ("classify", user("Is this email spam? Answer yes or no.\n\nCONGRATULATIONS you won a "
                      "cruise, click here")),
    ("classify", user("What's the sentiment of this review: 'Battery died after two days.'")),
    ("classify", user("Categorize each of these commit messages into fix, feature, chore:\n"
                      "- bump deps\n- add retry to uploader\n- handle empty config")),
    ("classify", user("Label the following headline with one of: politics, sport, tech, "
                      "other.\n'Chipmaker unveils 2nm process'")),
    ("classify", user("Triage this alert: disk usage 91% on db-2. Urgent or can wait?")),
    # extract
    ("extract", user("Extract the invoice number, date and total from this email:\n"
                     "Invoice INV-2231 dated 2025-03-02, amount due EUR 412.50.")),
    ("extract", user("Return JSON with fields name, company, phone from this signature:\n"
                     "Jane Roe | Acme GmbH | +49 30 1234567")),
    ("extract", user("Pull out every URL mentioned in the text below.\n"
                     "See https://a.example and also http://b.example/docs for details.")),
    ("extract", user("List all the dates mentioned in this paragraph: the kickoff is on May 3, "
                     "review on May 17 and launch June 2.")),
    ("extract", user("From the log below, extract the repo names and chunk counts as JSON.\n"
                     + _LOG)),
    ("extract", user("Parse this address into street, city, postcode: 10 Downing St, London "
                     "SW1A 2AA")),
    # format
    ("format", user("Convert this to YAML:\n{\"name\": \"tierd\", \"port\": 11500}")),
    ("format", user("Turn this into a markdown table: apples 3, pears 5, plums 8")),
    ("format", user("Reformat these names as 'Last, First', one per line:\nAda Lovelace\n"
                    "Alan Turing")),
    ("format", user("Fix the indentation of this JSON and pretty-print it: "
                    "{\"a\":1,\"b\":{\"c\":2}}")),
    ("format", user("Sort these lines alphabetically and remove duplicates:\npear\napple\npear")),
    ("format", user("Put the following notes in title case: meeting notes for tuesday")),
    # summarize
    ("summarize", user("Summarize this article in three bullet points:\n" + _ARTICLE)),
    ("summarize", user("TL;DR of the thread below please.\n" + "Alice: the deploy failed. "
                       "Bob: rolled back. Alice: root cause was a missing env var. " * 5)),
    ("summarize", user("Give me the key takeaways from this meeting transcript:\n"
                       + "We agreed to ship Friday and to move the retro. " * 10)),
    ("summarize", user("Write a one-paragraph summary of what this repository does, based on "
                       "its README:\n# tierd\nA daemon that routes prompts to local models.")),
    ("summarize", user("Condense this changelog into two sentences for the release channel:\n"
                       "- fixed crash on empty config\n- added budgets\n- faster index")),
    ("summarize", user(_LOG + "\n\nRecap what the nightly indexer did.")),
    # scan
    ("scan", user("Scan this log for errors or warnings:\n" + _LOG)),
    ("scan", user("Does this contract mention an auto-renewal clause? The term is 12 months "
                  "and renews automatically unless cancelled.")),
    ("scan", user("Check whether any of these filenames look like credentials: id_rsa, "
                  "notes.txt, .env")),
    ("scan", user("Look through the following messages and flag any that mention a deadline."
                  "\n1. lunch?\n2. report due Friday\n3. ok")),
    ("scan", user("Are there any email addresses in this text? 'Contact us via the form.'")),
    ("scan", user("grep the output below for lines with 'timeout'\n" + _LOG)),
    # chat
    ("chat", user("Hi! How's it going?")),
    ("chat", user("What's the difference between a latte and a flat white?")),
    ("chat", user("Can you explain what a context window is, in simple terms?")),
    ("chat", user("I'm feeling stuck on my project today. Any advice on getting unstuck?")),
    ("chat", user("Thanks, that helped. One more question: why is the sky blue?")),
    ("chat", user("What do you think about using Python for data work?")),
    # orchestrate
    ("orchestrate", user("You have tools search_repo, run_tests and open_pr. Decide the next "
                         "step to fix the failing build.")),
    ("orchestrate", user("Break this down into subtasks and assign each to the right agent: "
                         "migrate the docs site to the new domain.")),
    ("orchestrate", user("Plan the steps to rebuild the nightly index and notify the team if it "
                         "fails.")),
    ("orchestrate", user("Which tool should I call first to answer 'what changed in repo X "
                         "last week', and with what arguments?")),
    ("orchestrate", user("Coordinate the workflow: fetch new mail, extract invoices, file them, "
                         "then report totals.")),
    ("orchestrate", user("Here is the state of the job queue. What is the next action?",
                         system="You are the orchestrator of a team of agents.")),
    # code
    ("code", user("Write a Python function that retries an HTTP request with exponential "
                  "backoff.")),
    ("code", user("Implement a CLI in Rust that counts lines per file extension.")),
    ("code", user("Fix this bug: the loop never terminates.\n" + _CODE)),
    ("test_gen", user("Add unit tests for the load() function below.\n" + _CODE)),
    ("code", user("Write a SQL query that returns the top 5 customers by revenue in 2024.")),
    ("code", user("Refactor this to use pathlib and handle missing files:\n" + _CODE)),
    # code_review
    ("code_review", user("Review this diff for correctness and style:\n" + _DIFF)),
    ("code_review", user("Can you find bugs in this code?\n" + _CODE)),
    ("code_review", user("Please review my pull request: it replaces the loop with sum().\n"
                         + _DIFF)),
    ("code_review", user("Audit this function for security issues:\n" + _CODE)),
    ("code_review", user("What's wrong with this code? It sometimes crashes.\n" + _CODE)),
    ("code_review", user(_CODE + "\nCritique the error handling here.")),
    # writing
    ("writing", user("Write a blog post announcing tierd's 1.0 release for our users.")),
    ("writing", user("Draft a 1500-word essay on why local inference matters for privacy.")),
    ("writing", user("Compose a letter to our landlord asking to fix the heating.")),
    ("writing", user("Write a comprehensive guide to setting up a home inference box, about "
                     "3 pages.")),
    ("writing", user("Draft the newsletter for March: highlights, upcoming events, thanks.")),
    ("writing", user("I need an in-depth article comparing Ollama and llama.cpp for beginners.")),
    # architecture
    ("architecture", user("Design the architecture for a multi-tenant job scheduler that runs "
                          "on three hosts.")),
    ("architecture", user("What are the trade-offs between SQLite and Postgres for our ledger?")),
    ("architecture", user("How should we structure the services if we split the monolith?")),
    ("architecture", user("We need to scale this to 10k requests per second. Propose a system "
                          "design.")),
    ("architecture", user("Design a data model and pipeline for ingesting 40 repos nightly.")),
    ("architecture", user("Should the router and the budget manager be one process or two? "
                          "Weigh the trade-offs of each.")),
    # final_review
    ("final_review", user("Do a final review of this proposal before I send it to the board:\n"
                          + _ARTICLE)),
    ("final_review", user("Proofread my cover letter and point out anything awkward.")),
    ("final_review", user("Last pass before we publish: is this announcement clear and "
                          "correct?\n" + "tierd 1.0 is out today. " * 5)),
    ("final_review", user("Is this post ready to publish? Give me a go/no-go with reasons.")),
    ("final_review", user("Give the release notes a final read and tell me what to fix.")),
    ("final_review", user("Check this essay one last time before I submit it.")),
]
