"""Prompts for the mid tier: chat and orchestrate.

Chat is conversation a human reads: questions, explanations, advice, small talk — including
questions that mention code without asking for any. Orchestrate is an agent deciding what to
do next: which tool, which agent, which step, in what order.
"""

from __future__ import annotations

from materials import AUTOGEN_SYSTEM, REACT_SYSTEM, TOOLS_SYSTEM
from shapes import agent, chat, user

CHAT = [
    user("What's the difference between a mutex and a semaphore, in plain words?"),
    user("hey! got a minute? I'm torn between a Mac Mini and a mini PC with a 4060 for running "
         "local models at home. what would you pick and why?"),
    user("Why do sourdough starters need feeding every day?"),
    user("Can you explain what a KV cache is and why it eats so much memory?"),
    user("I keep procrastinating on my thesis. Any tips that actually work for you-know, "
         "real people?"),
    user("Is Python's list.sort stable? I always forget."),
    user("What's a good name for a grey cat who is a bit of a drama queen?"),
    chat([("user", "I'm going to Lisbon for four days in June."),
          ("assistant", "Lovely time to go — long evenings and the Santo António festivities "
                        "around the 13th. Do you want an itinerary?"),
          ("user", "maybe later. what should I eat there though?")]),
    user("Tell me a joke about databases."),
    user("How does HTTPS actually keep my password secret on the way to the server?"),
    user("What's the capital of Australia, and why isn't it Sydney?"),
    user("I'm new to Rust. Is the borrow checker something you eventually stop fighting?"),
    user("Recommend three sci-fi novels for someone who loved The Martian."),
    user("Thanks, that worked! Out of curiosity, why does `git rebase` change the commit "
         "hashes?"),
    user("What would happen to the tides if the moon suddenly disappeared?"),
    user("how many tablespoons in a cup"),
    user("Good morning! What's something interesting I could learn in five minutes today?"),
    user("As a Python developer, should I learn Go or Rust next? I mostly write backend "
         "services."),
    user("Can you help me understand what my doctor meant by 'benign fasciculations'? I'm a "
         "bit worried."),
    user("Do you do tubeless conversions, and roughly how long does one take?",
         system="You are Tessa, the friendly assistant of Pedal & Spoke, a bike shop in "
                "Utrecht. Be warm and concise."),
    user("My kid asked me why the sea is salty and I had no good answer. Help?"),
    user("ok so what's actually the difference between RAM and storage"),
    chat([("user", "Write a Python function that flattens a nested list."),
          ("assistant", "```python\ndef flatten(items):\n    for item in items:\n        if "
                        "isinstance(item, list):\n            yield from flatten(item)\n"
                        "        else:\n            yield item\n```"),
          ("user", "haha it works, you're a lifesaver. do you ever get bored of people asking "
                   "you for code?")]),
    user("What does 'idempotent' mean? I hear it all the time at work."),
    user("honestly, is a 14B model at q4 good enough for everyday coding help?"),
    user("Explain the offside rule like I'm five."),
    user("I have an interview for a backend role tomorrow and I'm nervous. Any last-minute "
         "advice?"),
    user("what time zone is Lisbon in, same as London?"),
    user("Tea or coffee for focus? Briefly."),
    user("Do you think AI will replace programmers in the next ten years?"),
]

ORCHESTRATE = [
    user("Find out which of our repos failed tonight's index rebuild and post a note in #ops.",
         system=TOOLS_SYSTEM),
    chat([("user", "Task: pick a Python library for reading GGUF metadata and show an example."),
          ("assistant", "Researcher: I found three candidates: gguf (from llama.cpp), "
                        "gguf-parser and llama-cpp-python's reader. gguf is maintained with "
                        "llama.cpp itself."),
          ("user", "Coder: I can write the example with gguf. Who goes next?")],
         system=AUTOGEN_SYSTEM),
    user("Question: what's the weather in Porto tomorrow, and do I have anything in my "
         "calendar then?", system=REACT_SYSTEM),
    user("Break this project into subtasks with their dependencies: migrate our blog from "
         "WordPress to Hugo without losing the comments."),
    user("Plan the steps for the nightly job: fetch mail, extract invoices, file them in the "
         "ledger, alert on failures. Which steps can run in parallel?"),
    agent(TOOLS_SYSTEM, "Book a table for four on Friday evening near the office and tell "
          "the team in #general.",
          [("search_web", {"query": "restaurant table for 4 Friday near Rua Augusta"},
            "Cervejaria Trindade: no availability 19:00; 20:30 available. Taberna da Rua: "
            "19:30 available for 4.")]),
    user("You can call get_price(symbol), get_news(symbol) and notify(text). Decide the "
         "sequence of calls that alerts me when NVDA drops 5% on bad news."),
    user("Which agent should take this: the SQL agent, the docs agent or the web agent? "
         "Question: 'how many users signed up last week?'"),
    user("Decompose 'prepare the quarterly investor update' into tasks and assign each one to "
         "the writer, the analyst or the designer."),
    user("What's the next action? State: build failed at step 'lint'; retries left: 1; last "
         "error: flake8 E501 line too long in tierd/router.py."),
    user("turn off everything downstairs at 11pm unless someone is home",
         system="You are the planner of a home-automation agent. Given a goal, output a JSON "
                "plan: a list of tool calls (get_presence, list_devices, schedule, switch) "
                "with arguments."),
    user("I have four scripts: fetch.sh, clean.py, embed.py and publish.sh. Give me the order "
         "to run them in, with retries, and what to do when embed fails."),
    user("Coordinate: Coder wrote the patch, Critic found two issues (a missing test, a "
         "race in the cache). What should happen now, and who does it?",
         system=AUTOGEN_SYSTEM),
    user("You are the supervisor. Sub-agent results:\n- mail_agent: 14 invoices found\n- "
         "ledger_agent: 12 filed, 2 rejected (duplicate number)\n- notify_agent: not run\n"
         "Is the task complete? If not, what do you re-run or dispatch next?"),
    user("Plan the next steps for this deploy: staging is green, the prod canary at 5% shows "
         "2% errors against a 0.5% baseline."),
    agent(TOOLS_SYSTEM, "Find me a quiet mechanical keyboard under 100 euros.",
          [("search_web", {"query": "quiet mechanical keyboard under 100 euro"},
            "1. Keychron K8 Pro (brown switches) EUR 99\n2. Logitech MX Mechanical Mini EUR 129"
            "\n3. Akko 3068B silent EUR 79")],
          follow_up="ok, now also check which of them ship to Germany"),
    user("Given the tools git_log, list_branches, open_issue and assign, work out the "
         "sequence of tool calls to triage our stale branches."),
    user("Pick the tool and arguments. The user wants the three largest files in /var/log.",
         system=TOOLS_SYSTEM),
    user("Split this research question into sub-questions I can hand to parallel web-search "
         "agents: 'Is it cheaper to run a 14B model at home than a cloud API for 100 calls a "
         "day?'"),
    user("Orchestrate onboarding for a new engineer: accounts, laptop, a buddy, first-week "
         "meetings. Who does what, and in what order?"),
    user("Lay out the execution plan the agent should follow to reconcile last month's "
         "invoices against the bank export. List the tool calls."),
    chat([("user", "Task: add a /healthz endpoint to the API."),
          ("assistant", "Coder: added the endpoint and a test; all 212 tests pass."),
          ("user", "Critic: looks good to me, nothing to add.")], system=AUTOGEN_SYSTEM),
    user("The user said 'clean up my downloads folder'. You have list_dir, move and delete. "
         "Plan it safely before you act."),
    user("the embed step failed 3x with a timeout. options: wait and retry, fall back to the "
         "cloud embedder, skip tonight. pick one and say why in a line"),
    user("Question: how many days until my next dentist appointment?", system=REACT_SYSTEM),
    user("Turn this goal into a DAG of jobs for our scheduler: every night pull 40 repos, "
         "re-index the changed ones, summarize new files, then email a report."),
    agent(TOOLS_SYSTEM, "Send the weekly report to the team channel.",
          [("read_file", {"path": "reports/week19.md"},
            "# Week 19\n- spend $3.10 (budget $20)\n- 41/43 nightly rebuilds ok\n- 2 incidents"
            )]),
    user("Which of my agents should wake up for this — mail, calendar or finance? 'move my "
         "3pm with Sam to tomorrow and let him know'"),
    user("Given the job queue below, what should the scheduler run next, and why?\n\n"
         '[{"job": "index-rebuild", "state": "waiting", "needs": ["mail-extract"]}, {"job": '
         '"mail-extract", "state": "done"}, {"job": "price-scrape", "state": "failed", '
         '"retries": 2}, {"job": "report", "state": "waiting", "needs": ["index-rebuild", '
         '"price-scrape"]}]'),
    user("We have a researcher agent, a coder agent and a reviewer agent. Write the hand-off "
         "plan for 'add OAuth login to the admin page': who starts, what each passes on, "
         "when to stop."),
]
