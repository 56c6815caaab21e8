"""Prompts for the local tasks: classify, extract, format, summarize, scan.

Mechanical work a program reads or a human only scans, as the users' cron jobs, nightly index
and support inbox send it: terse instructions, schema-bound system messages, pasted mail,
logs and feeds.
"""

from __future__ import annotations

from materials import (
    ANNOUNCEMENT_DRAFT,
    API_JSON,
    ARCHITECTURE_ARTICLE,
    CHANGELOG_COMMITS,
    CONTRACT,
    CRON_RESULTS,
    CSV_ROWS,
    ESSAY_DRAFT,
    HN_LIST,
    INDEXER_LOG,
    INVOICE_EMAIL,
    JOURNAL_LOG,
    JSON_FEED,
    K8S_EVENTS,
    MEETING_NOTES,
    NGINX_LOG,
    PRODUCT_REVIEWS,
    PY_CODE,
    PY_DIFF,
    PY_TRACEBACK,
    RELEASE_NOTES,
    RSS_FEED,
    SLACK_THREAD,
    SUPPORT_EMAIL,
    TICKETS,
    TOOLS_SYSTEM,
)
from shapes import agent, chat, user

CLASSIFY = [
    user("Route this support message to the right team (billing, auth, infra, product). "
         "Reply with the team name only.\n\n" + SUPPORT_EMAIL),
    user("Hi, do you offer discounts for nonprofits? We're a team of 12 and mostly volunteers.",
         system="You are a ticket router. For each message output exactly one of: billing, "
                "technical, account, sales."),
    user("spam or ham?\n\nDear friend, I am barrister Okafor and I need your help to move "
         "USD 4,500,000 left by a late client. Reply with your bank details to begin."),
    user("For each review below say positive, negative or neutral.\n" + PRODUCT_REVIEWS),
    user("Which of these are bugs, which are feature requests and which are questions? Output "
         "`#number: bug|feature|question`, one per line.\n" + TICKETS),
    user("priority P1-P4 for alert 'api p99 latency 4.2s for 10m (threshold 1s)'. output the "
         "priority only"),
    user("What language is this? 'Het pakket is gisteren verzonden en komt morgen aan.' Reply "
         "with the ISO 639-1 code."),
    user("Is this commit a breaking change? `feat(api)!: drop the v1 endpoints` — yes/no"),
    user("Tag the headline with one topic from [markets, tech, health, politics, sport]:\n"
         "\"Regulators fine chipmaker over export breach\""),
    user("Hey, quick one — would you say this customer is angry, neutral or happy?\n\n"
         "\"Third time I'm writing. The replacement part still hasn't shipped and nobody "
         "answers the phone.\""),
    user("intent? one of book_flight, cancel_booking, baggage_info, other\n"
         "utterance: my bag didn't arrive in Lisbon what do I do"),
    user("Is this PR title conventional-commit compliant? Answer yes or no: 'Update stuff'",
         system=TOOLS_SYSTEM),
    user("Bucket these expenses into food, transport, software or other:\nUber 23.10\n"
         "JetBrains 24.90\nLidl 41.22\nDeutsche Bahn 89.00\nGitHub Copilot 10.00"),
    user("Does this alert belong to the database team or the network team?\n"
         "'replication lag on pg-replica-2 is 340s and climbing'"),
    chat([("user", "I'll paste some emails; for each, tell me whether it needs a reply today."),
          ("assistant", "Sure — paste them one at a time and I'll answer 'reply today' or "
                        "'can wait'."),
          ("user", "Email 3: 'FYI the office is closed on Monday for the holiday.'")]),
    user("Label every line of this access log as ok, client_error or server_error.\n"
         + NGINX_LOG),
    user("Rate the toxicity of this comment from 0 (none) to 3 (severe); give only the number."
         "\n'this library is garbage and so are the people who maintain it'"),
    user("Is the following a question about pricing? Y/N\n'how much is the team plan per seat "
         "if we pay yearly?'"),
    user("Which department should handle this — HR, IT or Facilities? 'The badge reader on "
         "floor 3 stopped opening the door this morning.'"),
    user('Assign the ticket to one category from {"categories": ["hardware", "software", '
         '"network"]} and respond as {"category": "..."}.\nTicket: wifi drops every 10 minutes '
         'in meeting room B'),
    user("Classify the document type (invoice, receipt, contract, letter, other):\n\n"
         + INVOICE_EMAIL),
    user("Is this a phishing attempt? Subject: 'Your mailbox is full — verify your account "
         "now' From: it-support@micros0ft-help.example"),
    user("Give each PR a risk level (low/medium/high) from the title alone:\n- Bump lodash to "
         "4.17.21\n- Rewrite auth middleware\n- Fix typo in README\n- Alter the orders table "
         "migration"),
    user("Which category is this article — engineering, finance or HR? One word.\n\n"
         + ARCHITECTURE_ARTICLE),
    user("nsfw? true/false: 'sunset over the lake, kids swimming near the dock'"),
    user("Could you tell me whether this sentence is formal or informal? \"Hey, wanna grab the "
         "files later?\" Thank you!"),
    user("make it a bit warmer in the living room",
         system="Classify user requests for a smart-home hub into one of: lights, heating, "
                "security, music, unknown. Output the label only."),
    user("severity for each event (info/warn/critical), one per line, same order:\n"
         + K8S_EVENTS),
    user("Is this message a complaint, a compliment or a question? Just the word.\n"
         "'Your new checkout is so much faster, well done!'"),
    user("Decide if each job in the list is user-facing or internal: backup-photos, "
         "index-rebuild, mail-extract, cert-renew, price-scrape. Format: job=label"),
]

_TODO_FILE = """```python
1  import os
2  # TODO: read the limit from config instead of hardcoding it
3  LIMIT = 50
4
5  def fetch(client, since):
6      # FIXME: this silently drops the last page
7      pages = client.pages(since)[:-1]
8      return [item for page in pages for item in page]
9
10 def store(rows):
11     # TODO(ana): batch the inserts
12     for row in rows:
13         os.write(row)
```"""

_RECIPE = """Shakshuka for two: 2 tbsp olive oil, 1 onion, 1 red pepper, 3 cloves garlic, 1 tsp
cumin, 1 tsp paprika, 400 g chopped tomatoes, 4 eggs, a handful of parsley, feta to taste."""

_JOB_POST = """Senior Backend Engineer — Lumen Analytics (Remote, EU time zones)
We are a 40-person company building observability tools. You will own our ingestion
pipeline (Go, Kafka, ClickHouse). Compensation: EUR 85,000–105,000 plus equity."""

_HTML_PRODUCT = """<div class="product"><h2 class="title">Kettle K-200, 1.7 L</h2>
<span class="price" data-currency="EUR">39.90</span><p class="stock">Only 3 left</p>
<h2 class="title">Toaster T-4</h2><span class="price" data-currency="EUR">54.00</span>
<p class="stock">Out of stock</p></div>"""

EXTRACT = [
    user("Pull every item out of this feed as JSON objects with title, link and date. Skip "
         "sponsored items.\n\n" + RSS_FEED),
    user("From the JSON feed below give me a list of {name, version, url} for each release."
         "\n" + JSON_FEED),
    user("Extract the invoice number, issue date, total and due date. JSON only.\n\n"
         + INVOICE_EMAIL),
    user("List the TODO and FIXME comments in this file with their line numbers.\n"
         + _TODO_FILE),
    user("Turn these notes into action items — owner, task, due date if there is one.\n\n"
         + MEETING_NOTES),
    user("get me all the email addresses in this csv, unique\n" + CSV_ROWS),
    user("Parse the user id, plan and total cost out of this API response:\n" + API_JSON),
    user("Paid Jonas 45.50 for the concert tickets on March 3rd",
         system='You extract structured data. Output must validate against the JSON schema '
                '{"type": "object", "properties": {"name": {"type": "string"}, "date": '
                '{"type": "string"}, "amount": {"type": "number"}}, "required": ["name", '
                '"date", "amount"]}.'),
    user("Who is in this Slack thread and what did each of them commit to doing?\n\n"
         + SLACK_THREAD),
    user("Grab the story titles and their point counts from this list, as CSV.\n" + HN_LIST),
    user("What are the stack frames (file, line, function) in this traceback? Return a JSON "
         "array.\n" + PY_TRACEBACK),
    user("Extract the renewal notice period and the liability cap from these clauses.\n\n"
         + CONTRACT),
    user("fields: sender_name, customer_number, complaint_topics[]\n<<<\n" + SUPPORT_EMAIL
         + "\n>>>"),
    user("Pull the ingredients and quantities out of this recipe as a list.\n" + _RECIPE),
    user("Read this job posting and give me company, role, location and salary range as "
         "key: value lines.\n\n" + _JOB_POST),
    user("Find the flight number, departure time and gate in this confirmation:\n\nYour "
         "booking ref QX7T2L. Flight TP 573 Lisbon → Berlin, Tue 20 May, departs 06:55 from "
         "gate 14, boarding closes 06:35. Seat 17C."),
    user("Please extract all the dates and what happens on each from this paragraph: the "
         "kickoff is on 3 June, design review a fortnight later on the 17th, beta opens 1 July "
         "and the public launch is pencilled in for 9 September."),
    user("I need the repo names and their chunk counts from tonight's indexer log, as CSV "
         "(repo,chunks).\n" + INDEXER_LOG),
    chat([("user", "I'm going to send you receipts, one by one."),
          ("assistant", "Great, I'll read each one."),
          ("user", "REWE Markt GmbH, Berliner Str. 12\nBananen 1,29\nHafermilch 2,19\nBrot 3,49"
                   "\nSUMME EUR 6,97\n12.05.2025 18:03\n\nstore, total and date please")]),
    user("Get the phone numbers and the postal address out of this signature block:\n\n"
         "Tomás Ferreira | Head of Ops\nFerreira & Filhos Lda, Rua do Ouro 120, 1100-063 Lisboa"
         "\nT +351 21 340 5566 · M +351 912 345 678"),
    user("Make me a list of every URL in this markdown.\n\nSee the [docs](https://docs.example."
         "dev/start) first, then the [FAQ](https://docs.example.dev/faq). Issues go to "
         "https://git.example.dev/tierd/issues and chat is at <https://chat.example.dev>."),
    user("From this ticket text, pull out the order number and the product name: 'Order "
         "#A-55120 — the blender (model X200) arrived with a cracked jug.'",
         system=TOOLS_SYSTEM),
    user("Which packages and versions are pinned here? Give a JSON object name → version.\n\n"
         "fastapi==0.115.2\nuvicorn[standard]==0.30.6\nnumpy>=1.26\nhttpx==0.27.2\n"
         "apscheduler==3.10.4"),
    user("Extract every amount of money and its currency from this email:\n\nHi Sam, the "
         "hotel came to EUR 412 for three nights, the train was GBP 86.40 and I paid the "
         "$25 conference fee on my own card. Can you reimburse the lot?"),
    user("Split this address into street, number, postcode, city and country: "
         "'Hauptstr. 5, 10115 Berlin, Germany'"),
    user("Identify the people, organisations and places in: 'After meeting Angela Ruiz of "
         "the Porto city council, Nordlicht Energy agreed to open its first office in Braga.'"),
    user("What error codes show up in this journal, and on which device?\n" + JOURNAL_LOG),
    user("From the commit list, give me the hashes of the fix commits only.\n"
         + CHANGELOG_COMMITS),
    user("Build a JSON list of the participants and their roles from this call transcript:"
         "\n\nMaria (PM): let's start. Jonas (backend): the API is done. Wei (design): the "
         "mockups are in Figma. Maria: and legal? Oskar (counsel): the DPA is signed."),
    user("scrape name, price and stock status for each product from this html\n"
         + _HTML_PRODUCT),
]

_UGLY_PY = """```python
def area( w,h ):
  return w*h
x=area(3,4);print( x )
```"""

_BROKEN_YAML = """server:
  port: 8080
   host: 0.0.0.0
  tls:
  cert: /etc/ssl/cert.pem
    key: /etc/ssl/key.pem"""

_TOML = """[server]
host = "0.0.0.0"
port = 11500

[routing]
default_task = "chat"
enforce = "warn\""""

_MD_TABLE = """| repo | chunks | status |
|------|--------|--------|
| tierd | 412 | ok |
| dotfiles | 38 | ok |
| legacy-crm | 0 | failed |"""

FORMAT = [
    user("Convert this CSV to a markdown table.\n\n" + CSV_ROWS),
    user("Pretty-print this JSON with 2-space indentation, keys in their original order.\n"
         + API_JSON),
    user("make this yaml\n" + JSON_FEED),
    user("Format this SQL so each clause is on its own line with uppercase keywords: select "
         "name, count(*) from users u join orders o on o.uid=u.id where o.total>10 group by "
         "name"),
    user("Reformat this Python the way black would. Don't change anything else.\n" + _UGLY_PY),
    user("Turn these notes into a bulleted list with one idea per bullet:\n\nwe need to move "
         "the demo, also the NAS is making noises again and someone should renew the domain "
         "before June, plus Dora wants a spending cap"),
    user("Sort these alphabetically and drop duplicates:\nzfs\nproxmox\nollama\nZFS\nllama.cpp"
         "\nproxmox\nsqlite"),
    user("Normalise these phone numbers to E.164 (assume Germany when there's no country "
         "code):\n030 1234567\n+49 (0)171 9876543\n0049 40 555 0101\n0151-2223334"),
    user("Render the cron results as an HTML table with a header row.\n\n" + CRON_RESULTS),
    user("Convert the dates to ISO 8601: 3 May 2025, 05/17/2025 (US), 2025.06.02, "
         "1st of July 2025"),
    user("Change these variable names to snake_case: userId, HTTPResponseCode, lastLoginAt, "
         "isAdmin"),
    user("Wrap this commit message body at 72 columns, keep the subject line as is:\n\nfix: "
         "reconnect to ollama after the host wakes from sleep\n\nWhen the Mac Mini sleeps the "
         "TCP connection is dropped silently and the next request hangs until the 300 second "
         "timeout, so we now send a cheap probe after any gap of more than a minute."),
    user("Put these steps in a numbered list: unplug the router, wait thirty seconds, plug it "
         "back in, wait for the light to go green, then restart the NAS"),
    user("Escape this so I can paste it inside a JSON string value:\nHe said \"use C:\\temp\\"
         "logs\" and then\nleft."),
    user("Can you make this markdown into plain text? Remove all the formatting, keep the "
         "words.\n\n" + RELEASE_NOTES),
    user("TOML -> JSON please\n\n" + _TOML),
    user("Reformat these references in APA 7 style:\n- Vaswani et al, Attention is all you "
         "need, NeurIPS 2017\n- Lewis P. and others (2020) Retrieval-augmented generation for "
         "knowledge-intensive NLP tasks. NeurIPS."),
    user("This YAML won't parse, fix the indentation only:\n\n" + _BROKEN_YAML),
    user("to title case: the small guide to local inference on cheap machines",
         system="You are a formatting tool. Output only the transformed text, nothing else."),
    user("Convert these k8s events to CSV with the columns age,type,reason,object,message.\n\n"
         + K8S_EVENTS),
    user("Align the = signs in this block so it looks tidy:\n\nhost = \"0.0.0.0\"\nport = "
         "11500\ndefault_task = \"chat\"\ncache_ttl = 3600"),
    user("json to csv with columns id,title,url:\n" + JSON_FEED),
    chat([("user", "can you tidy up my shopping list?"),
          ("assistant", "Of course — paste it in."),
          ("user", "milk eggs  Bread bread tomatoes x6 cheese?? eggs oat milk (the blue one)")]),
    user("Rewrite these headings in sentence case:\n# Getting Started With Tierd\n## Routing "
         "Rules And Tiers\n## Setting Up A Free Tier Budget"),
    user("Turn this markdown table into a JSON array of objects.\n\n" + _MD_TABLE),
    user("Convert this Python dict literal to valid JSON:\n{'name': 'tierd', 'debug': True, "
         "'hosts': ('mini', 'box'), 'proxy': None}"),
    user("Lay this address out on separate lines like on an envelope: Dr. Ana Sousa, Rua "
         "Augusta 24, 3º Esq, 1100-053 Lisboa, Portugal"),
    user("Strip the timestamps and log levels, keep only the message of each line:\n"
         + INDEXER_LOG),
    user("Put these bullet points into Keep a Changelog format under Added/Fixed/Changed:\n"
         "- per-key budgets\n- crash when budget had no period\n- cache TTL default now 1h\n"
         "- /ui cost chart"),
    user("Hi! Could you convert these times to 24-hour format for me? 7:15 am, 12:30 pm, "
         "9 pm, 11:59 pm. Thanks so much."),
]

_GO_RETRY = """```go
// Retry calls fn until it succeeds or attempts run out, doubling the wait each time.
func Retry(ctx context.Context, attempts int, base time.Duration, fn func() error) error {
	var err error
	for i := 0; i < attempts; i++ {
		if err = fn(); err == nil {
			return nil
		}
		select {
		case <-time.After(base << i):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}
```"""

_PAPER_ABSTRACT = """We study speculative decoding for small on-device language models. A
270M-parameter draft model proposes tokens that a 14B target model verifies in parallel. On consumer
hardware with unified memory we observe 1.8-2.4x faster decoding with identical outputs,
with gains shrinking as the acceptance rate drops below 60% on code-heavy prompts."""

_LONG_EMAIL_CHAIN = """From: Lena  — Re: Re: offsite
Venue is confirmed for 14-15 June in Sintra, 18 people. Buses leave at 08:00 from the office.
From: Marco — Re: offsite
Can we make sure there's a vegetarian option? Also I can only join on the 15th.
From: Lena — offsite
Hi all, planning the summer offsite. Please fill the dietary form by Friday. Budget per person
is EUR 350 including the hotel. Agenda to follow."""

SUMMARIZE = [
    user("Status line for the dashboard from these cron results, max 80 characters.\n\n"
         + CRON_RESULTS),
    user("tl;dr this thread\n\n" + SLACK_THREAD),
    user("Summarize this article in three bullets.\n\n" + ARCHITECTURE_ARTICLE),
    user("Write a 1-2 sentence summary of what this file does, for the code index.\n\n"
         + PY_CODE),
    user("What did the nightly indexer do? One short paragraph.\n\n" + INDEXER_LOG),
    user("Give me the gist of these contract clauses in plain English.\n\n" + CONTRACT),
    user("Condense these release notes into one sentence for the announcement channel.\n\n"
         + RELEASE_NOTES),
    user("recap of today's commits for #dev, 3 lines max\n" + CHANGELOG_COMMITS),
    user("Sum up the customer's problem in one line for the ticket title.\n\n"
         + SUPPORT_EMAIL),
    user("path: worker/retry.go\n" + _GO_RETRY,
         system="You write short summaries of source files for a code search index: 1-3 "
                "sentences, no preamble, no markdown."),
    user("Can you boil this meeting down to the decisions we actually made?\n\n"
         + MEETING_NOTES),
    user("Digest of the feed below: one line per item, no links, no dates.\n\n" + RSS_FEED),
    user("What's the overall picture from these reviews, in two sentences?\n\n"
         + PRODUCT_REVIEWS),
    user("Summarise the k8s events for on-call: what is wrong right now, briefly?\n\n"
         + K8S_EVENTS),
    user("Key points from this email chain please — I was on holiday.\n\n" + _LONG_EMAIL_CHAIN),
    chat([("user", "Here's a draft of my blog post, what do you think?\n\n" + ESSAY_DRAFT),
          ("assistant", "It reads well: the 'paying a poet to do data entry' line is the hook. "
                        "Two small fixes: 'Their are' should be 'There are', and the last "
                        "paragraph could say what the box is."),
          ("user", "thanks. now give me a two-sentence abstract of it for the blog index")]),
    user("Summarize this abstract for a non-technical reader in two sentences.\n\n"
         + _PAPER_ABSTRACT),
    user(JOURNAL_LOG + "\n\nWhat happened on the NAS overnight? Short answer."),
    user("Make a short standup update from my notes: fixed the ollama reconnect bug, "
         "half-way through the budget alerts, blocked on the Okta test tenant, out Friday "
         "afternoon"),
    user("Shorten this paragraph to under 40 words without losing the meaning:\n\n"
         + ESSAY_DRAFT.split("\n\n")[1]),
    user("One-line description of this repo for the internal catalog, from its README:\n\n"
         "# photo-sorter\nSorts a folder of photos into year/month folders using EXIF dates, "
         "detects duplicates by perceptual hash and writes a CSV report of what moved. Runs "
         "nightly from cron on the NAS."),
    agent(TOOLS_SYSTEM, "What's new in the changelog? Keep it short.",
          [("read_file", {"path": "CHANGELOG.md"}, RELEASE_NOTES)]),
    user("Write a summary of the call transcript below: who wants what, max five bullets.\n\n"
         "Maria: we need the export feature by July or the Acme deal slips. Jonas: July is "
         "tight, the API needs pagination first. Wei: I can have the designs next week. "
         "Maria: fine, let's aim for a beta in July and GA in August."),
    user("Summarize each PR in one sentence:\n#311 Replaces the hand-rolled retry loop in the "
         "mail fetcher with the shared Retry helper and adds jitter.\n#312 Moves the price "
         "scraper from 06:00 to 05:30 so it finishes before the morning report.\n#313 Adds a "
         "--dry-run flag to the backup script that prints what rsync would delete."),
    user("Sum up this week's support tickets by theme in a few lines:\n" + TICKETS),
    user("One-line commit message for this diff:\n" + PY_DIFF),
    user("collapse these alerts into one slack message:\n- 03:10 backup-photos failed (rsync 23)"
         "\n- 03:20 ata2 READ FPDMA QUEUED error on nas\n- 03:21 ata2 status DRDY ERR\n- 04:01 "
         "legacy-crm index failed\n- 04:02 embedder timeout (recovered)"),
    user("Can you give me a short summary of what this function does? I'm writing the "
         "docstring later.\n\n" + _GO_RETRY),
    user("Summarize the announcement below in 25 words for the status page.\n\n"
         + ANNOUNCEMENT_DRAFT),
    user("weekly digest: the HN items below in 2-3 sentences, what's the theme?\n" + HN_LIST),
]

_CONFIG_WITH_KEY = """OLLAMA_HOST=http://mini.lan:11434
OPENAI_API_KEY=sk-proj-4f9a8c1e2b7d46f0a3c5e8b1d2f4a6c9
LOG_LEVEL=info
DB_PATH=/var/lib/tierd/ledger.db
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"""

_PUBLIC_POST = """Thanks to everyone who came to the meetup! Special thanks to Jana Novak
(jana.novak@example.cz) for the venue, and call Petr on +420 777 123 456 if you left your
jacket. Slides are on the wiki."""

_COMMENTS = """1: great talk, thanks
2: the second half was a damn mess tbh
3: where can I find the slides?
4: speaker clearly had no clue what he was on about, total idiot
5: loved the demo"""

_QUERY_LOG = """GET /search?q=router+config 200
GET /search?q=%27+OR+1%3D1+-- 500
GET /items?id=12 200
GET /items?id=12+UNION+SELECT+password+FROM+users 500
GET /search?q=kv+cache 200"""

SCAN = [
    user("Pick out the error lines from this log.\n\n" + INDEXER_LOG),
    user("any 5xx in here?\n" + NGINX_LOG),
    user("Does this contract auto-renew? Yes or no, and quote the clause that says so.\n\n"
         + CONTRACT),
    user("Before we post this publicly, check it for personal data (names, emails, phone "
         "numbers) and flag what you find.\n\n" + _PUBLIC_POST),
    user("Scan this env file for secrets or API keys that must not be committed.\n\n"
         + _CONFIG_WITH_KEY),
    user("Flag every line in the journal that points to a failing disk.\n" + JOURNAL_LOG),
    user("Look through these messages and tell me which ones mention a deadline:\n1. lunch "
         "today?\n2. the grant report is due Friday 17:00\n3. ok sounds good\n4. please send "
         "the slides before Tuesday's review\n5. lol"),
    user("which lines mention a timeout?\n" + INDEXER_LOG),
    user("Is there any profanity or abuse in these comments? Give the line numbers.\n\n"
         + _COMMENTS),
    user("Check whether the word 'exclusive' appears anywhere in this agreement.\n\n"
         + CONTRACT),
    user("Is any IP hitting the login endpoint repeatedly?\n\n" + NGINX_LOG),
    user("watchlist: does today's feed mention proxmox, zfs or truenas? print the matching "
         "titles only\n\n" + RSS_FEED),
    user("Does this email ask for a payment or for bank details? Point at the sentence.\n\n"
         + INVOICE_EMAIL),
    user("Find rows in this CSV with a missing email or a malformed date.\n\nname,email,signup"
         "\nAda,ada@example.org,2025-01-03\nGrace,,2025-01-17\nAlan,alan@example.org,"
         "2025-13-02\nKatherine,kj@example.org,2025-03-11"),
    user("Spot the duplicated rows in this CSV, if any.\n\n" + CSV_ROWS),
    user(K8S_EVENTS, system="You are a log watcher. Reply OK if nothing needs attention; "
                            "otherwise list the lines that do, verbatim."),
    user("Do any of these reviews mention the battery or charging?\n\n" + PRODUCT_REVIEWS),
    user("Anything GPU-related in these events?\n\n" + K8S_EVENTS),
    user("Does this press release mention a date or a price anywhere?\n\n"
         + ANNOUNCEMENT_DRAFT),
    user("Make sure there are no links to staging in these notes (staging.example.com):\n\n"
         "- Docs: https://docs.example.com/2.3\n- Try it: https://staging.example.com/ui\n"
         "- Changelog: https://example.com/changelog"),
    user("Any failed jobs in the cron output?\n\n" + CRON_RESULTS),
    user("Which lines of this traceback come from our own code rather than the standard "
         "library?\n\n" + PY_TRACEBACK),
    chat([("user", "I'll paste batches of chat messages. Flag any that mention crypto, "
                   "giveaways or 'DM me'. Reply 'clean' if none."),
          ("assistant", "Understood. Send the first batch."),
          ("user", "next batch:\n- anyone going to the meetup?\n- FREE ETH giveaway, DM me "
                   "now\n- the slides are up\n- dm me for a cheap license key")]),
    user("Do any of these commits touch the docs?\n" + CHANGELOG_COMMITS),
    user("Look for SQL-injection attempts in these query-string logs.\n\n" + _QUERY_LOG),
    user("is 'confidential' or 'internal only' anywhere in this? just yes or no\n\n"
         + ANNOUNCEMENT_DRAFT),
    user("Check that every row has an owner; tell me which ones don't.\n\nservice | owner\n"
         "api | ana\nworker | \nweb | wei\ncron | \nindexer | ben"),
    user("Does this API response contain any null fields? Which ones?\n\n" + API_JSON),
    user("Which of these look like typosquats of github.com?\ngithub.com\ngithhub.com\n"
         "github.co\ngitlab.com\ngit-hub.com"),
    user("Check the tickets for anything that mentions money or charges.\n\n" + TICKETS),
]
