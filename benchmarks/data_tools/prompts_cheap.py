"""Prompts for the cheap tier: mechanical work over many files or a large context that needs a
reliable cloud model but not a strong one.

repo_scan: read a codebase (or many repos) and report its structure or where something is.
bulk_edit: the same find-and-replace or rename applied across many files.
boilerplate: code or config from a clear template or convention.
test_gen: test cases, test code and test data for given behaviour.
"""

from __future__ import annotations

from materials import (
    BASH_CODE,
    C_CODE,
    CODING_AGENT_SYSTEM,
    JAVA_CODE,
    JS_CODE,
    MULTI_FILE_DUMP,
    PY_CODE,
    PY_DIFF,
    PY_TRACEBACK,
    REPO_TREE,
    RUST_CODE,
    SQL_CODE,
    TS_CODE,
)
from shapes import chat, user

_FLASK_FILES = """=== app/users.py ===
@bp.route("/users", methods=["GET"])
def list_users(): ...
@bp.route("/users/<int:uid>", methods=["DELETE"])
def delete_user(uid): ...

=== app/orders.py ===
@bp.route("/orders", methods=["GET", "POST"])
def orders(): ...

=== app/health.py ===
@app.get("/healthz")
def health(): return "ok"
"""

_DOCKERFILES = """=== api/Dockerfile ===
FROM python:3.12-slim
EXPOSE 8000
=== worker/Dockerfile ===
FROM python:3.10
=== web/Dockerfile ===
FROM node:20-alpine
EXPOSE 3000
=== proxy/Dockerfile ===
FROM nginx:1.25
EXPOSE 80 443
"""

_CI_FILES = """=== repo: photo-sorter/.github/workflows/ci.yml ===
python-version: ["3.8", "3.11"]
=== repo: homelab/.github/workflows/test.yml ===
python-version: "3.12"
=== repo: legacy-crm/.gitlab-ci.yml ===
image: python:3.8-buster
=== repo: dotfiles/.github/workflows/lint.yml ===
python-version: "3.11"
"""

_GO_PACKAGES = """=== internal/queue/worker.go ===
package queue
import ("context"; "acme/internal/store"; "acme/internal/metrics")
=== internal/store/store.go ===
package store
import ("database/sql"; "acme/internal/metrics")
=== internal/metrics/metrics.go ===
package metrics
import "github.com/prometheus/client_golang/prometheus"
=== cmd/server/main.go ===
package main
import ("acme/internal/queue"; "acme/internal/store"; "acme/api")
"""

_PACKAGE_JSONS = """=== web/package.json ===
{"dependencies": {"react": "^18.2.0", "react-dom": "^18.2.0"}}
=== admin/package.json ===
{"dependencies": {"react": "^17.0.2", "react-dom": "^17.0.2"}}
=== docs/package.json ===
{"dependencies": {"react": "18.3.1", "@docusaurus/core": "3.1.0"}}
=== packages/ui/package.json ===
{"peerDependencies": {"react": ">=17"}}
"""

_MIGRATIONS = """=== 0039_add_keys.sql ===
CREATE TABLE api_keys (id TEXT PRIMARY KEY, label TEXT, created_at TEXT);
=== 0040_budget_period.sql ===
ALTER TABLE budgets ADD COLUMN period TEXT NOT NULL DEFAULT 'month';
=== 0041_index_calls.sql ===
CREATE INDEX calls_key_day ON calls (key_id, day);
=== 0042_add_refunds.sql ===
ALTER TABLE orders ADD COLUMN refund_cents INTEGER;
"""

_UTIL_FILES = """=== tierd/text.py ===
def slugify(s): ...
def truncate(s, n): ...
def _normalise(s): ...

=== tierd/report.py ===
from tierd.text import slugify
def render(rows): return [slugify(r.name) for r in rows]

=== tierd/cli.py ===
from tierd.report import render
def main(): print(render(load()))
"""

_WC_OUTPUT = """   212 src/tierd/app.py
  1488 src/tierd/routing/router.py
   903 src/tierd/costs/ledger.py
  1206 src/tierd/api/openai_routes.py
    88 src/tierd/sizes.py
  2310 src/tierd/cli.py
 14820 total"""

_READMES = """=== photo-sorter/README.md ===
# photo-sorter
Sorts photos by EXIF date. ## Install: pip install photo-sorter
=== homelab/README.md ===
# homelab
Ansible playbooks for the house.
=== legacy-crm/README.md ===
# legacy-crm
Old CRM. Do not touch.
=== dotfiles/README.md ===
# dotfiles
## Install: ./install.sh
"""

_GREP_PASSWORD = """legacy-crm/settings.py:14:DB_PASSWORD = "hunter2-prod"
homelab/roles/nas/defaults/main.yml:3:smb_password: "{{ vault_smb_password }}"
tierd/src/tierd/api/security.py:40:def check_password(hashed, password):
photo-sorter/tests/test_auth.py:9:    password = "not-a-real-password"
dotfiles/.config/git/credentials:1:https://ana:ghp_9f8e7d6c5b4a3210fedcba@github.com"""

_CARGO_FILES = """=== Cargo.toml ===
[workspace]
members = ["core", "cli", "server", "xtask"]
=== core/Cargo.toml ===
[package] name = "acme-core"
[dependencies] serde = "1"
=== cli/Cargo.toml ===
[package] name = "acme-cli"
[[bin]] name = "acme"
[dependencies] acme-core = { path = "../core" }, clap = "4"
=== server/Cargo.toml ===
[package] name = "acme-server"
[dependencies] acme-core = { path = "../core" }, axum = "0.7"
"""

_LOGGING_FILES = """=== services/signup/handler.py ===
log.info("new signup %s", user.email)
=== services/billing/charge.py ===
log.info("charging customer %s", customer.id)
=== services/mail/send.py ===
log.debug(f"sending to {msg.to} subject={msg.subject}")
=== services/auth/login.py ===
log.warning("failed login for %s from %s", form.email, request.ip)
"""

_DEBUG_CONFIGS = """=== api/config.yaml ===
debug: false
=== worker/settings.toml ===
debug = true
=== web/.env.production ===
NEXT_PUBLIC_DEBUG=1
=== admin/config.json ===
{"debug": false, "log_level": "info"}
"""

REPO_SCAN = [
    user("Scan this repo and report its structure: the main modules, the entry points and "
         "what each folder is for.\n\n" + REPO_TREE),
    user("Across these repos, find every requests.get/post call without a timeout. "
         "file:line please.\n\n" + MULTI_FILE_DUMP),
    user("Map the codebase: every package, its public functions, and which packages import "
         "which.", system=CODING_AGENT_SYSTEM),
    user("Which of our services read the DATABASE_URL env var? Search all 40 repos under "
         "~/src and list them."),
    user("List every Dockerfile in the monorepo with its base image and exposed ports.\n\n"
         + _DOCKERFILES),
    user("Grep the whole workspace for hardcoded IP addresses and give me file:line for each "
         "hit."),
    user("Give me an inventory of all HTTP routes in this Flask project (method, path, "
         "handler, file).\n\n" + _FLASK_FILES),
    user("Go through the files below and tell me where the config gets loaded and which keys "
         "are read where.\n\n" + _UTIL_FILES + _DEBUG_CONFIGS),
    user("Find all the TODOs across the repo and group them by directory. The repo is "
         "checked out at /work/acme; you can list and read files."),
    user("What does this codebase look like? Languages, frameworks, test setup, CI and rough "
         "size.\n\n" + REPO_TREE + "\n\n" + _WC_OUTPUT),
    user("Find all uses of the deprecated datetime.utcnow across the project and list "
         "them by module.", system=CODING_AGENT_SYSTEM),
    user("Which repos still pin Python 3.8 in their CI config?\n\n" + _CI_FILES),
    user("Search the org's repositories for copies of our vendored retry helper "
         "(retry.py) and tell me which version each one carries."),
    user("From the client code in each repo, map which microservice calls which.\n\n"
         + MULTI_FILE_DUMP),
    user("Read the whole src/ tree I pasted and list every public function with one line on "
         "what it does.\n\n" + _UTIL_FILES),
    user("Where in this repo do we write to the ledger database? File and function names "
         "only. It's about 300 files; use grep and read_file.", system=CODING_AGENT_SYSTEM),
    user("Produce the dependency graph of the Go packages in this module (edges a -> b).\n\n"
         + _GO_PACKAGES),
    user("Check every package.json in the monorepo and report which React version is used "
         "where.\n\n" + _PACKAGE_JSONS),
    user("List the SQL migrations and which table each one touches.\n\n" + _MIGRATIONS),
    user("Find dead code: functions defined but never referenced anywhere in these files.\n\n"
         + _UTIL_FILES),
    user("Which files in this repo are over 1000 lines?\n\n" + _WC_OUTPUT),
    user("Scan the READMEs of all our repos and tell me which ones lack install "
         "instructions.\n\n" + _READMES),
    user("I dumped the whole repo into this message (about 30 files). Where is "
         "authentication handled, and is there more than one implementation?\n\n"
         + MULTI_FILE_DUMP + _LOGGING_FILES),
    user("Report the structure of this Rust workspace: crates, what depends on what, "
         "binaries vs libraries.\n\n" + _CARGO_FILES),
    user("Find every place that logs a user's email address across the services.\n\n"
         + _LOGGING_FILES),
    user("I ran grep -rn password over all the repos. Which hits are real secrets and which "
         "are just variable names?\n\n" + _GREP_PASSWORD),
    user("List the public API surface of the library: everything exported from the "
         "__init__.py files in src/.", system=CODING_AGENT_SYSTEM),
    user("Across these config files, which services have debug mode switched on?\n\n"
         + _DEBUG_CONFIGS),
    user("Survey the test suites in our 12 backend repos: framework, rough number of tests, "
         "and whether CI runs them. A table is fine."),
    user("Look over the whole codebase and tell me everywhere retries are implemented and "
         "how the implementations differ.\n\n" + MULTI_FILE_DUMP),
]

_GET_USER_FILES = """=== app/users.py ===
def get_user(uid): ...
=== app/views.py ===
from app.users import get_user
def profile(req): return render(get_user(req.uid))
=== tests/test_users.py ===
from app.users import get_user
def test_get_user(): assert get_user(1).id == 1
"""

_WARN_FILES = """=== worker/jobs.py ===
log.warn("job %s slow", job.id)
=== worker/retry.py ===
log.warn("retrying %s", name)
=== api/server.py ===
log.warn("client disconnected")
"""

_HEADER_FILES = """=== src/a.py ===
# Copyright 2024 Acme GmbH
import os
=== src/b.py ===
# Copyright 2024 Acme GmbH
import sys
=== web/index.ts ===
// Copyright 2024 Acme GmbH
export {}
"""

_VERSION_FILES = """=== pyproject.toml ===
version = "2.3.1"
=== web/package.json ===
{"name": "acme-web", "version": "2.3.1"}
=== charts/acme/Chart.yaml ===
appVersion: "2.3.1"
=== docs/install.md ===
pip install acme==2.3.1
"""

_MANIFESTS = """=== k8s/api.yaml ===
image: registry.old.example/acme/api:2.14.1
=== k8s/worker.yaml ===
image: registry.old.example/acme/worker:2.14.1
=== k8s/cron.yaml ===
image: registry.old.example/acme/cron:1.9.0
"""

_TEST_FILES = """=== tests/test_a.py ===
self.assertEquals(a, 1)
=== tests/test_b.py ===
self.assertEquals(b.name, "x")
self.assertEquals(len(c), 3)
"""

_UTCNOW_FILES = """=== tierd/ledger.py ===
from datetime import datetime
stamp = datetime.utcnow().isoformat()
=== tierd/jobs.py ===
import datetime
next_run = datetime.datetime.utcnow() + delta
"""

_RELATIVE_FILES = """=== tierd/routing/router.py ===
from .classifier import classify
from ..config import Config
=== tierd/routing/cache.py ===
from ..db import connect
"""

_GO_HANDLERS = """=== api/handlers/users.go ===
func ListUsers(w http.ResponseWriter, r *http.Request) { ... }
=== api/handlers/orders.go ===
func CreateOrder(w http.ResponseWriter, r *http.Request) { ... }
=== api/server.go ===
mux.HandleFunc("/users", handlers.ListUsers)
mux.HandleFunc("/orders", handlers.CreateOrder)
"""

_ENV_FILES = """=== config.py ===
PORT = os.environ.get("APP_PORT", "8080")
=== docker-compose.yml ===
environment: [APP_PORT=8080, APP_DEBUG=0]
=== docs/config.md ===
Set `APP_PORT` to change the port.
"""

_TF_FILES = """=== envs/dev/main.tf ===
instance_type = "t2.micro"
=== envs/staging/main.tf ===
instance_type = "t2.micro"
=== modules/bastion/main.tf ===
instance_type = "t2.micro"
"""

_PRINT_FILES = """=== worker/fetch.py ===
print("fetched", len(items))
=== worker/embed.py ===
print(f"embedding batch {n}")
=== worker/publish.py ===
print("published")
"""

BULK_EDIT = [
    user("Rename get_user to fetch_user everywhere in these files, imports and tests "
         "included.\n\n" + _GET_USER_FILES),
    user("Replace every log.warn( with log.warning( across the codebase.\n\n" + _WARN_FILES),
    user("Update the copyright header in all source files from 2024 to 2025.\n\n"
         + _HEADER_FILES),
    user("Bump the version to 2.4.0 in pyproject.toml, package.json, the Helm chart and the "
         "docs.\n\n" + _VERSION_FILES),
    user("Change all imports of utils.http to common.http in the 23 modules under src/. Show "
         "me the edits as a patch."),
    user("In all the k8s manifests, change the registry from registry.old.example to "
         "ghcr.io/acme, keep the tags.\n\n" + _MANIFESTS),
    user("Add timeout=10 to every requests.get and requests.post call in these modules.\n\n"
         + MULTI_FILE_DUMP),
    user("Rename the Budget class to SpendLimit across the repo and update every reference, "
         "the tests and the docs.", system=CODING_AGENT_SYSTEM),
    user("Find and replace 'colour' with 'color' in all the markdown docs, but not inside "
         "code blocks. There are 48 files under docs/."),
    user("Swap assertEquals for assertEqual in every test file.\n\n" + _TEST_FILES),
    user("Replace the deprecated datetime.utcnow() with datetime.now(timezone.utc) in all "
         "files, adding the import where it's missing.\n\n" + _UTCNOW_FILES),
    user("Convert all the relative imports in this package to absolute ones.\n\n"
         + _RELATIVE_FILES),
    user("Every handler in api/handlers must take ctx context.Context as its first "
         "parameter. Update the signatures and all call sites.\n\n" + _GO_HANDLERS),
    user("Change the env var prefix from APP_ to TIERD_ everywhere — code, compose file and "
         "docs.\n\n" + _ENV_FILES),
    user("Please update all the links from http://docs.example.com to "
         "https://docs.example.dev in the 20 pages of our help centre (they're in help/*.md)."),
    user("Rename the users table to accounts in every SQL file and in the ORM models; there "
         "are about 40 files that mention it."),
    user("sed-style job: in every *.tf file, replace instance_type = \"t2.micro\" with "
         "\"t3.micro\".\n\n" + _TF_FILES),
    user("Strip trailing whitespace and make sure every file ends with exactly one newline, "
         "across the whole repo.", system=CODING_AGENT_SYSTEM),
    user("Turn every print( debug call in the worker package into logger.debug(, keeping the "
         "messages.\n\n" + _PRINT_FILES),
    user("Update the Go module path from github.com/old/proj to github.com/acme/proj in "
         "go.mod and in every import across the 60 packages."),
    user("Change the default port 8080 to 11500 everywhere it shows up: config, code, docs "
         "and the compose file.\n\n" + _ENV_FILES),
    chat([("user", "Rename `fetchUser` to `loadUser` in src/api/users.js."),
          ("assistant", "Done: three occurrences in src/api/users.js — the definition, one "
                        "call site and the export."),
          ("user", "ok. now do the same rename in the other 12 files of src/api/, same rule, "
                   "and list the files you changed")]),
    user("Put the SPDX line `# SPDX-License-Identifier: MIT` at the top of each of these "
         "files, after any shebang.\n\n" + _HEADER_FILES),
    user("Rename the feature flag new_checkout to checkout_v2 across the frontend and the "
         "backend, including the flag config files."),
    user("In every package.json in the monorepo replace \"lodash\": \"^4.17.15\" with "
         "\"^4.17.21\"."),
    user("Switch all the f-string logging calls to lazy %-formatting across the repo, e.g. "
         "logger.info(f'x={x}') -> logger.info('x=%s', x).", system=CODING_AGENT_SYSTEM),
    user("Replace var with let or const (const where it's never reassigned) in all the JS "
         "files under legacy/ — about 35 files."),
    user("Move every import of the deprecated decorator from old.decorators to tierd.compat "
         "in these modules; nothing else should change.\n\n=== a.py ===\nfrom old.decorators "
         "import deprecated\n=== b.py ===\nfrom old.decorators import deprecated, cached\n"),
    user("Update the signature block in all 30 email templates under templates/mail/ to the "
         "new support address support@acme.example."),
    user("Rename the CLI flag --dryrun to --dry-run in the code, the tests, the README and "
         "the shell completions."),
]

_PRODUCT_HANDLER = """```python
@router.get("/products/{pid}")
def get_product(pid: int, db: DB = Depends(db)) -> Product:
    return db.get(Product, pid) or raise_404("product", pid)

@router.post("/products")
def create_product(body: ProductIn, db: DB = Depends(db)) -> Product:
    return db.add(Product(**body.model_dump()))
```"""

_SCHEMA = """```sql
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, created TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total_cents INTEGER);
CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER, cents INTEGER, reason TEXT);
```"""

_ORDERS_K8S = """```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, labels: {app: orders}}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: orders
        image: ghcr.io/acme/orders:1.4.0
        ports: [{containerPort: 8000}]
        envFrom: [{configMapRef: {name: orders-config}}]
```"""

_USER_JSON = """{"id": 4021, "name": "Priya N", "plan": "pro", "created": "2024-11-02T10:22:00Z",
 "usage": {"tokens_in": 1203391, "tokens_out": 88210, "cost_usd": 3.91},
 "keys": [{"id": "k_1", "label": "cron-extract", "last_used": "2025-05-12T06:00:41Z"}]}"""

_ENUM_SWITCH = """```go
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFailed:
		return "failed"
	}
	return "unknown"
}
```"""

_BUTTON_TSX = """```tsx
type ButtonProps = { label: string; onClick: () => void };
export function Button({ label, onClick }: ButtonProps) {
  return <button className="btn" onClick={onClick}>{label}</button>;
}
```"""

_EN_JSON = """{"nav.home": "Home", "nav.costs": "Costs", "costs.title": "Spend by key",
 "costs.empty": "No calls yet", "alerts.budget": "Budget {name} is at {pct}%"}"""

_POINT = """```python
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __repr__(self):
        return f"Point(x={self.x!r}, y={self.y!r})"
    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)
    def __hash__(self):
        return hash((self.x, self.y))
```"""

_TF_LOGS_BUCKET = """```hcl
resource "aws_s3_bucket" "logs" { bucket = "acme-logs" }
resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration { status = "Enabled" }
}
```"""

_AUTHOR_CONTROLLER = """```java
@RestController
@RequestMapping("/authors")
public class AuthorController {
    private final AuthorService service;
    public AuthorController(AuthorService service) { this.service = service; }
    @GetMapping("/{id}") public Author get(@PathVariable long id) { return service.get(id); }
    @PostMapping public Author create(@RequestBody Author a) { return service.create(a); }
}
```"""

_NOT_FOUND = """```python
class NotFound(TierdError):
    http_status = 404

    def __init__(self, what: str):
        super().__init__(f"not found: {what}")
```"""

BOILERPLATE = [
    user("Generate the CRUD endpoints for Customer, Order and Invoice following exactly the "
         "pattern of the Product handlers below.\n\n" + _PRODUCT_HANDLER),
    user("Dockerfile for a Python 3.12 FastAPI app, same as our other services: slim base, "
         "non-root user, uvicorn on port 8000."),
    user("Create a dataclass for each of these tables.\n\n" + _SCHEMA),
    user("Write the Deployment, Service and ConfigMap for `billing`, copying the `orders` "
         "template below (port 8000, 2 replicas).\n\n" + _ORDERS_K8S),
    user("Scaffold a new Click CLI project: pyproject.toml, src layout, one `hello` command, "
         "a test and a Makefile."),
    user("Getters and setters for all the fields of this class, please.\n\n" + JAVA_CODE),
    user("A GitHub Actions workflow for a Go project: lint, test and build on push, with a "
         "matrix over Go 1.22 and 1.23."),
    user("Generate TypeScript interfaces for this API response.\n\n" + _USER_JSON),
    user("systemd unit file for tierd: runs as user tierd, restarts on failure, starts after "
         "network-online."),
    user("OpenAPI 3 skeleton for these endpoints: GET /items, POST /items, GET /items/{id}, "
         "DELETE /items/{id}. Schemas can be placeholders."),
    user("Makefile with the usual targets: install, lint, test, fmt, clean and run."),
    user("Pydantic v2 models for this payload, nested ones included.\n\n" + _USER_JSON),
    user("Repeat this String() switch for the other enums in the package: Priority (Low, "
         "Normal, High), Tier (Local, Cheap, Mid, Code, Frontier), Phase (Queued, Running, "
         "Done).\n\n" + _ENUM_SWITCH),
    user("A UserCard component with props name, avatarUrl and role, built the same way as "
         "Button.tsx.\n\n" + _BUTTON_TSX),
    user("I need an .editorconfig, a .gitignore and a pre-commit config for a repo with "
         "Python and TypeScript."),
    user("Create fr.json, de.json and es.json with the same keys as en.json, values set to "
         "\"TODO\".\n\n" + _EN_JSON),
    user("Generate the CREATE TABLE migrations for these models.\n\n```python\n@dataclass\n"
         "class Key:\n    id: str\n    label: str\n    created_at: str\n\n@dataclass\nclass "
         "Budget:\n    id: int\n    key_id: str\n    limit_usd: float\n    period: str\n```"),
    user("docker-compose.yml: postgres 16, redis 7 and our api image, with healthchecks and a "
         "named volume for the database."),
    user("Write __repr__, __eq__ and __hash__ for Line, Circle, Rect, Polygon, Arc and Label "
         "the same way Point does them.\n\n" + _POINT),
    user("entities: Tag, Label, Category",
         system="You are a scaffolding tool. For each entity, emit a repository class "
                "following this template exactly:\n\nclass {Entity}Repository:\n    def "
                "get(self, id): ...\n    def list(self): ...\n    def add(self, item): ...\n"
                "    def remove(self, id): ..."),
    user("Terraform for an uploads bucket with versioning and a 30-day lifecycle rule, like "
         "the logs bucket module below.\n\n" + _TF_LOGS_BUCKET),
    user("Helm chart skeleton for a stateless web service: Chart.yaml, values.yaml, and "
         "templates for the deployment, service and ingress."),
    user("BookController with the usual CRUD mappings, mirroring AuthorController.\n\n"
         + _AUTHOR_CONTROLLER),
    user("Create a launchd plist that runs ~/bin/backup.sh every day at 03:00 and logs to "
         "~/Library/Logs/backup.log."),
    user("Stub out the protobuf service definition and the Go server interface for "
         "UserService with Get, List, Create and Delete."),
    user("Boilerplate for a new Django app `invoices`: models, admin registration, urls and "
         "a list view."),
    user("argparse boilerplate for a script taking --input, --output, --verbose and "
         "--limit N"),
    user("Empty Rust CLI with clap derive: subcommands add, list and remove, each with its "
         "own args struct."),
    user("Same error classes for 400, 401, 403, 409 and 429 following NotFound below.\n\n"
         + _NOT_FOUND),
    user("Basic nginx reverse-proxy config: api.example.com -> localhost:8000, TLS from "
         "certbot, http redirected to https."),
]

_PARSE_DURATION = """```python
def parse_duration(text: str) -> int:
    \"\"\"'1h30m' -> 5400 seconds; accepts h, m, s in that order.\"\"\"
    units = {"h": 3600, "m": 60, "s": 1}
    total, number = 0, ""
    for ch in text:
        if ch.isdigit():
            number += ch
        elif ch in units and number:
            total += int(number) * units[ch]
            number = ""
        else:
            raise ValueError(text)
    if number:
        raise ValueError(text)
    return total
```"""

_GO_PARSE_PORT = """```go
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return n, nil
}
```"""

_FLATTEN = """```python
def flatten(items):
    for item in items:
        if isinstance(item, list):
            yield from flatten(item)
        else:
            yield item
```"""

_BRANCHY = """```python
def shipping_cents(weight_g: int, country: str, express: bool) -> int:
    if weight_g <= 0:
        raise ValueError("weight")
    base = 490 if country == "PT" else 990 if country in EU else 1990
    if weight_g > 2000:
        base += 300 * ((weight_g - 2000) // 1000 + 1)
    return base * 2 if express else base
```"""

_HELPERS = """```python
def slugify(s: str) -> str:
    return "-".join(s.lower().split())

def truncate(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
```"""

TEST_GEN = [
    user("Write pytest tests for parse_duration, edge cases included.\n\n" + _PARSE_DURATION),
    user("Generate 20 test inputs for an email-address validator, half valid and half "
         "invalid, each with the expected result."),
    user("Table-driven Go tests for parsePort.\n\n" + _GO_PARSE_PORT),
    user("JUnit 5 unit tests for this RateLimiter, controlling time somehow.\n\n" + JAVA_CODE),
    user("Add hypothesis property-based tests for flatten.\n\n" + _FLATTEN),
    user("Jest tests for debounce, using fake timers.\n\n" + TS_CODE),
    user("Give me the test cases for our checkout flow: happy path, declined card, expired "
         "session, and the coupon edge cases. A table of steps and expected results."),
    user("Rust unit tests for parse_port covering 0, 65535, 65536, surrounding whitespace and "
         "garbage.\n\n" + RUST_CODE),
    user("Add the missing tests for tierd/budget.py until coverage is above 90%.",
         system=CODING_AGENT_SYSTEM),
    user("Generate 50 realistic fake customer records as JSON fixtures for our integration "
         "tests: name, email, country, signup date, plan."),
    user("Write a test that reproduces the KeyError in this traceback, before anyone fixes "
         "it.\n\n" + PY_TRACEBACK),
    user("Cover every branch of this function with tests.\n\n" + _BRANCHY),
    user("Integration tests for the /items endpoints with FastAPI's TestClient: list, create, "
         "get, delete, and a 404."),
    user("Cypress end-to-end tests for the login page: wrong password, locked account and a "
         "successful login."),
    user("What test cases should a function that merges overlapping intervals have? List "
         "inputs and expected outputs."),
    user("Create a set of tricky prompts to test our classifier's routing, each with the "
         "task it should get. Include ones that summarize code and ones that review essays."),
    user("Tests for this SQL: the seed data to insert and the rows we expect back.\n\n"
         + SQL_CODE),
    user("bats tests for this cleanup script, using a temp dir with old and new files.\n\n"
         + BASH_CODE),
    user("Unit tests for join_path in plain C with assert.h, including the empty-string "
         "cases.\n\n" + C_CODE),
    user("Generate edge-case inputs for our CSV parser: quoted commas, embedded newlines, a "
         "BOM, empty lines, trailing delimiters. Give each with the expected parse."),
    user("Snapshot and interaction tests for the UserCard component with React Testing "
         "Library."),
    user("Write doctests for these two helpers.\n\n" + _HELPERS),
    user("A cargo-fuzz harness for parse_port, plus a couple of seed inputs.\n\n" + RUST_CODE),
    user("Test matrix for budget alerts: which combinations of period (day, week, month), "
         "limit and spend level should we cover, and what should each one do?"),
    user("Please write pytest tests for get_config, including two threads missing the cache "
         "at the same time.\n\n" + PY_CODE),
    user("Mock fetch and test that loadUsers returns every user, in order.\n\n" + JS_CODE),
    user("Generate 30 test sentences for our sentiment classifier, each with its expected "
         "label (positive, negative, neutral)."),
    user("Write regression tests for the bug this diff fixes, so it never comes back.\n\n"
         + PY_DIFF),
    user("Pact contract tests for the billing API between the web client and the server: "
         "get invoice, list invoices, pay invoice."),
    chat([("user", "We just added `tierd costs --by key`; it prints a table of spend per "
                   "key."),
          ("assistant", "Nice. Do you want docs for it, or tests?"),
          ("user", "tests. golden-file tests for the output, with a couple of ledgers: empty, "
                   "one key, many keys with long labels")]),
]
