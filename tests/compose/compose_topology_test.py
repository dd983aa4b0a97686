#!/usr/bin/python3
# Copyright kabar authors.
"""Runs the deploy/docker-compose.yml topology as local processes.

No Docker engine runs where kabar is built and tested, so this test checks
the next best thing: that the services of the compose file, started with
exactly the commands, environments and healthchecks written there, work
together. It reads the compose file itself (anchors, merge keys, variable
interpolation, profiles and depends_on included) and, for each kabar
service, starts the binary named by its `command` from the build directory
with its `environment`, translating only what exists solely in a container:

  0.0.0.0:PORT (a listen address)    -> 127.0.0.1:<free port>
  127.0.0.1:PORT (healthcheck, inside the container) -> that replica's port
  dns:///SERVICE:PORT                -> ipv4:127.0.0.1:P1,127.0.0.1:P2,...
                                        (every replica, as Docker's DNS does)
  a path under one of the service's volume mounts -> a temporary directory
                                        per named volume
  /usr/share/kabar/models/...        -> the repository's models/ (the image
                                        bakes them in there)
  /var/lib/kabar (the image's WORKDIR and the user's home) -> a temporary
                                        working directory per replica
  postgresql://...@postgres:...      -> a fresh database on the server in
                                        KABAR_TEST_POSTGRES_URL
  ./certs (bind mount of the TLS override) -> certificates and tokens made by
                                        deploy/gen-dev-certs.sh
  with TLS, dns:///SERVICE:PORT also sets KABAR_TLS_SERVER_NAME=SERVICE, the
                                        name the certificate is checked for
                                        in the container (the test checks the
                                        certificate lists every such name)

Any other container path makes the test fail, so a compose change the
translation does not understand is noticed rather than papered over.
Scalable services (those without a fixed host port) run as two replicas,
as `docker compose up --scale classify=2` would. Each replica is healthy
when the service's own healthcheck command (translated the same way) exits
0. Then the 36 sample articles go in through `kabar ingest` on the ingest
service's published port, come back through `kabar query --format jsonl` on
the store's published port, and must all be there with their language. At
the end every process gets SIGTERM and must exit 0.

Scenarios: the default (SQLite on the kabar-data volume); the compose file
with the override deploy/docker-compose.tls.yml (TLS, mutual TLS and
tokens; the host CLI then passes the CA, client certificate and tokens, and
must be refused without them); and, when KABAR_TEST_POSTGRES_URL is set,
the compose file with deploy/postgres.env (the postgres profile; its
PostgreSQL server is the test server).

Usage: compose_topology_test.py --source-dir DIR --build-dir DIR
Exit codes: 0 passed, 1 failed, 77 skipped (python3-yaml missing).
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml is not installed (apt-get install python3-yaml)")
    sys.exit(77)

SKIP = 77
HEALTH_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
REPLICAS_OF_SCALABLE = 2

# Where the image (deploy/docker/Dockerfile) puts things, and where they are
# here. Each must appear in the Dockerfile; the test checks that.
IMAGE_MODELS_DIR = "/usr/share/kabar/models"
IMAGE_WORKDIR = "/var/lib/kabar"


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


# --- Reading the compose file -------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, variables):
    """Compose's variable syntax: $$, $VAR, ${VAR}, ${VAR:-default},
    ${VAR-default}, ${VAR:?error}, ${VAR?error}."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op = match.group("op")
        arg = match.group("arg") or ""
        present = name in variables
        value = variables.get(name, "")
        if op in (":-", ":?") and value == "":
            present = False
        if present:
            return value
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise TestFailure("compose variable %s is required: %s" % (name, arg))
        return ""

    return _VARIABLE.sub(replace, value)


def read_env_file(path):
    variables = {}
    with open(path) as env_file:
        for line in env_file:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            variables[key.strip()] = value.strip()
    return variables


def environment_of(service):
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def depends_on(service):
    dependencies = service.get("depends_on") or []
    return list(dependencies.keys()) if isinstance(dependencies, dict) else list(dependencies)


def start_order(services):
    order, visiting = [], set()

    def visit(name):
        if name in order:
            return
        check(name not in visiting, "depends_on cycle through %s" % name)
        visiting.add(name)
        for dependency in depends_on(services[name]):
            check(dependency in services, "%s depends on unknown %s" % (name, dependency))
            visit(dependency)
        order.append(name)

    for name in services:
        visit(name)
    return order


def merge_override(services, override):
    """Compose's merge of an override file: environments by key, volumes
    appended, anything else replaced."""
    for name, changes in override.items():
        service = services.setdefault(name, {})
        for key, value in changes.items():
            if key == "environment":
                service[key] = dict(environment_of(service), **environment_of(changes))
            elif key == "volumes":
                service[key] = list(service.get(key) or []) + list(value)
            else:
                service[key] = value


def load_topology(compose_path, env_file, override_path=None):
    """The services `docker compose [--env-file ENV_FILE] -f COMPOSE
    [-f OVERRIDE] up` would start."""
    variables = read_env_file(env_file) if env_file else {}
    with open(compose_path) as compose_file:
        document = yaml.safe_load(compose_file)
    services = interpolate(document["services"], variables)
    if override_path:
        with open(override_path) as override_file:
            merge_override(services, interpolate(yaml.safe_load(override_file)["services"],
                                                  variables))
    profiles = [p for p in variables.get("COMPOSE_PROFILES", "").split(",") if p]
    active = {
        name: service for name, service in services.items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }
    return active, start_order(active)


def is_kabar_service(service):
    build = service.get("build") or {}
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    return dockerfile.endswith("deploy/docker/Dockerfile")


def published_ports(service):
    """[(host_port, container_port)] of a service's `ports`."""
    result = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            result.append((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) >= 2:
            result.append((int(parts[-2]), int(parts[-1])))
    return result


# --- Running it -----------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])
    except OSError:
        return ""


class Replica:
    def __init__(self, service, index, directory):
        self.service = service
        self.index = index
        self.name = "%s-%d" % (service, index + 1)
        self.directory = directory
        self.ports = {}  # container port -> local port
        self.process = None
        self.environment = {}
        self.log_path = os.path.join(directory, "output.log")

    def port(self, container_port):
        if container_port not in self.ports:
            self.ports[container_port] = free_port()
        return self.ports[container_port]


class Topology:
    """The compose services as processes. External services (not built from
    kabar's Dockerfile) must have a provider, e.g. the test PostgreSQL."""

    def __init__(self, source_dir, build_dir, services, order, work_dir, providers,
                 bind_mounts=None):
        self.source_dir = source_dir
        self.bind_mounts = bind_mounts or {}  # host path in the compose file -> local
        self.bin_dir = os.path.join(build_dir, "bin")
        self.services = services
        self.order = order
        self.work_dir = work_dir
        self.providers = providers
        self.replicas = {}  # service -> [Replica]
        self.started = []

    # Translation of container-only values ---------------------------------

    def volume_dir(self, volume):
        path = os.path.join(self.work_dir, "volumes", volume)
        os.makedirs(path, exist_ok=True)
        return path

    def translate_path(self, path, service, replica):
        mounts = []
        for entry in self.services[service].get("volumes") or []:
            source, _, target = str(entry).partition(":")
            target = target.split(":")[0]
            if source.startswith(("/", ".")):
                check(source in self.bind_mounts,
                      "%s mounts a host path (%s) this scenario does not provide" %
                      (service, entry))
                mounts.append((target, self.bind_mounts[source]))
                continue
            mounts.append((target, self.volume_dir(source)))
        mounts.append((IMAGE_MODELS_DIR, os.path.join(self.source_dir, "models")))
        mounts.append((IMAGE_WORKDIR, replica.directory))
        for target, local in sorted(mounts, key=lambda m: -len(m[0])):
            if path == target or path.startswith(target.rstrip("/") + "/"):
                return local + path[len(target.rstrip("/")):]
        raise TestFailure("%s: no local counterpart for the container path %s" %
                          (service, path))

    def translate(self, value, service, replica):
        match = re.fullmatch(r"(?:0\.0\.0\.0|\[::\]|::):(\d+)", value)
        if match:  # A listen address.
            return "127.0.0.1:%d" % replica.port(int(match.group(1)))
        match = re.fullmatch(r"(?:127\.0\.0\.1|localhost):(\d+)", value)
        if match:  # The container itself, e.g. in a healthcheck.
            return "127.0.0.1:%d" % replica.port(int(match.group(1)))
        match = re.fullmatch(r"dns:///([A-Za-z0-9_.-]+):(\d+)", value)
        if match:
            target, port = match.group(1), int(match.group(2))
            check(target in self.replicas,
                  "%s refers to %s, which is not started before it (depends_on?)" %
                  (service, target))
            return "ipv4:" + ",".join("127.0.0.1:%d" % r.port(port)
                                      for r in self.replicas[target])
        if re.match(r"postgres(ql)?://", value):
            host = urllib.parse.urlsplit(value).hostname
            check(host in self.providers,
                  "%s: no local provider for the service %s in %s" % (service, host, value))
            return self.providers[host](value)
        if value.startswith("/"):
            return self.translate_path(value, service, replica)
        return value

    def binary(self, name):
        path = os.path.join(self.bin_dir, name)
        check(os.access(path, os.X_OK), "%s is not built (expected %s)" % (name, path))
        return path

    def command(self, argv, service, replica):
        return [self.binary(argv[0])] + [self.translate(a, service, replica) for a in argv[1:]]

    # Life cycle ----------------------------------------------------------------

    def replica_count(self, name):
        service = self.services[name]
        # A fixed host port would stop `--scale`; such services run once.
        return 1 if published_ports(service) else REPLICAS_OF_SCALABLE

    def start(self):
        for name in self.order:
            service = self.services[name]
            if not is_kabar_service(service):
                check(name in self.providers,
                      "no local stand-in for the external service %s" % name)
                continue
            command = service.get("command")
            check(isinstance(command, list) and command,
                  "%s: command must be an exec-form list" % name)
            self.replicas[name] = [
                Replica(name, i, os.path.join(self.work_dir, "%s-%d" % (name, i + 1)))
                for i in range(self.replica_count(name))
            ]
            for replica in self.replicas[name]:
                os.makedirs(replica.directory, exist_ok=True)
            for replica in self.replicas[name]:
                self.start_replica(name, replica, command)

    def start_replica(self, name, replica, command):
        service = self.services[name]
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": replica.directory,
            "LANG": "C.UTF-8",
        }
        for key, value in environment_of(service).items():
            environment[key] = self.translate(value, name, replica)
        self.keep_tls_names(name, service, environment)
        replica.environment = environment
        argv = self.command(command, name, replica)
        with open(os.path.join(replica.directory, "environment"), "w") as record:
            record.write("%s\n" % " ".join(argv))
            for key, value in sorted(environment.items()):
                record.write("%s=%s\n" % (key, value))
        with open(replica.log_path, "wb") as log:
            replica.process = subprocess.Popen(
                argv, env=environment, cwd=replica.directory, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT)
        self.started.append(replica)
        self.wait_healthy(name, replica)
        print("  %-10s pid %-7d %s  (%s)" % (
            replica.name, replica.process.pid,
            ", ".join("%d->127.0.0.1:%d" % item for item in sorted(replica.ports.items())),
            " ".join("%s=%s" % (k, v) for k, v in sorted(environment.items())
                     if k.startswith("KABAR_"))))

    def keep_tls_names(self, name, service, environment):
        """With TLS, a dns:///SERVICE target is checked against the name
        SERVICE in the container; its translation to loopback addresses
        must not change that."""
        if not environment.get("KABAR_TLS_CA"):
            return
        targets = [m.group(1) for value in environment_of(service).values()
                   for m in [re.fullmatch(r"dns:///([A-Za-z0-9_.-]+):\d+", value)] if m]
        for target in targets:
            certificate = environment_of(self.services[target]).get("KABAR_TLS_CERT")
            check(certificate, "%s dials %s with TLS, but %s serves no certificate" %
                  (name, target, target))
            local = self.translate_path(certificate, target, self.replicas[target][0])
            names = subprocess.run(["openssl", "x509", "-in", local, "-noout", "-ext",
                                    "subjectAltName"], capture_output=True, text=True).stdout
            check("DNS:%s" % target in names, "the certificate of %s (%s) does not name it: %s"
                  % (target, certificate, names.strip()))
        if targets:
            environment["KABAR_TLS_SERVER_NAME"] = targets[0]

    def wait_healthy(self, name, replica):
        test = (self.services[name].get("healthcheck") or {}).get("test")
        check(isinstance(test, list) and test and test[0] == "CMD",
              "%s: healthcheck.test must be [\"CMD\", ...]" % name)
        argv = self.command(test[1:], name, replica)
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if replica.process.poll() is not None:
                raise TestFailure("%s exited with %d while starting:\n%s" % (
                    replica.name, replica.process.returncode, tail(replica.log_path)))
            # Like Docker's, the check runs inside the container: with the
            # service's environment and working directory.
            if subprocess.run(argv, env=replica.environment, cwd=replica.directory,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30).returncode == 0:
                return
            time.sleep(0.2)
        raise TestFailure("%s not healthy after %ds (healthcheck: %s):\n%s" % (
            replica.name, HEALTH_TIMEOUT_S, " ".join(argv), tail(replica.log_path)))

    def host_address(self, host_port):
        """Where a port the compose file publishes on the host is served."""
        for name, service in self.services.items():
            for published, container in published_ports(service):
                if published == host_port and name in self.replicas:
                    return "127.0.0.1:%d" % self.replicas[name][0].port(container)
        raise TestFailure("no service publishes host port %d" % host_port)

    def stop(self):
        """SIGTERM in reverse start order; returns {replica: exit code}."""
        codes = {}
        for replica in reversed(self.started):
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
                try:
                    replica.process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
                    replica.process.wait()
            codes[replica.name] = replica.process.returncode
        return codes

    def kill(self):
        for replica in self.started:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait()


# --- PostgreSQL stand-in ----------------------------------------------------------


class TestDatabase:
    """A fresh database on the server in KABAR_TEST_POSTGRES_URL."""

    def __init__(self, server_url):
        self.server_url = server_url
        self.name = "kabar_compose_%08x" % random.getrandbits(32)
        self.psql(server_url, "CREATE DATABASE %s" % self.name)
        parts = urllib.parse.urlsplit(server_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))

    @staticmethod
    def psql(url, sql):
        result = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url,
                                 "-c", sql],
                                capture_output=True, text=True)
        check(result.returncode == 0, "psql %s: %s" % (sql, result.stderr))
        return result.stdout

    def drop(self):
        subprocess.run(["psql", "-X", "-q", self.server_url, "-c",
                        "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name],
                       capture_output=True)


# --- The scenario -------------------------------------------------------------------


def run_kabar(bin_dir, args):
    result = subprocess.run([os.path.join(bin_dir, "kabar")] + args, capture_output=True,
                            text=True, timeout=120, env={"PATH": os.environ.get("PATH", "")})
    return result.returncode, result.stdout, result.stderr


def make_certs(source_dir, work_dir):
    """deploy/gen-dev-certs.sh into work_dir/certs, as the TLS override's
    instructions say."""
    certs = os.path.join(work_dir, "certs")
    result = subprocess.run([os.path.join(source_dir, "deploy", "gen-dev-certs.sh"), certs],
                            capture_output=True, text=True)
    check(result.returncode == 0, "gen-dev-certs.sh failed: %s" % result.stderr)
    return certs


def run_scenario(label, source_dir, build_dir, env_file, providers, tls=False):
    compose_path = os.path.join(source_dir, "deploy", "docker-compose.yml")
    override = os.path.join(source_dir, "deploy", "docker-compose.tls.yml") if tls else None
    services, order = load_topology(compose_path, env_file, override)
    print("[%s] services in start order: %s" % (label, ", ".join(order)))
    work_dir = tempfile.mkdtemp(prefix="kabar-compose-%s-" % label)
    bind_mounts = {}
    ingest_flags, query_flags = [], []
    if tls:
        certs = make_certs(source_dir, work_dir)
        bind_mounts["./certs"] = certs
        cert = lambda name: os.path.join(certs, name)
        ingest_flags = ["--tls_ca=" + cert("ca.pem"), "--token_file=" + cert("read-write.token")]
        query_flags = ["--tls_ca=" + cert("ca.pem"), "--tls_client_cert=" + cert("client.pem"),
                       "--tls_client_key=" + cert("client.key"),
                       "--token_file=" + cert("read-only.token")]
    topology = Topology(source_dir, build_dir, services, order, work_dir, providers,
                        bind_mounts)
    passed = False
    try:
        topology.start()
        bin_dir = topology.bin_dir
        samples = os.path.join(source_dir, "samples", "articles.jsonl")
        with open(samples) as sample_file:
            expected = {article["url"]: article for article in map(json.loads, sample_file)}

        # From the host, as a user would: the published ports.
        ingest = topology.host_address(7701)
        store = topology.host_address(7703)
        if tls:
            # Without the token, and without TLS, the published ports refuse.
            code, out, err = run_kabar(bin_dir, ["query", "--store=" + store] +
                                       query_flags[:-1])
            check(code == 1 and "UNAUTHENTICATED" in err,
                  "kabar query without a token: exit %d, %s" % (code, err))
            code, out, err = run_kabar(bin_dir, ["query", "--store=" + store, "--timeout=5s"])
            check(code == 1 and "--tls_ca" in err,
                  "kabar query without TLS: exit %d, %s" % (code, err))
            print("  refused: no token (UNAUTHENTICATED), plaintext (UNAVAILABLE, TLS hint)")
        code, out, err = run_kabar(bin_dir, ["ingest", "--ingest=" + ingest,
                                             "--progress=false", samples] + ingest_flags)
        check(code == 0, "kabar ingest exited %d:\n%s%s" % (code, out, err))
        print("  kabar ingest: %s" % (out + err).strip().splitlines()[-1])
        code, out, err = run_kabar(bin_dir, ["query", "--store=" + store, "--format=jsonl",
                                             "--limit=1000"] + query_flags)
        check(code == 0, "kabar query exited %d:\n%s%s" % (code, out, err))
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        by_url = {row["url"]: row for row in rows}
        missing = sorted(set(expected) - set(by_url))
        unlabeled = sorted(url for url, row in by_url.items() if not row.get("language"))
        agree = sum(1 for url, row in by_url.items() if url in expected and
                    row.get("language") == expected[url]["metadata"].get("lang_hint"))
        print("  kabar query: %d rows, %d of %d samples present, %d without language, "
              "language = lang_hint for %d" % (len(rows), len(expected) - len(missing),
                                                len(expected), len(unlabeled), agree))
        check(len(rows) == len(expected), "expected %d rows, got %d" % (len(expected), len(rows)))
        check(not missing, "missing articles: %s" % missing)
        check(not unlabeled, "articles without a language: %s" % unlabeled)
        check(agree == len(expected), "languages differ from the samples' lang_hint")

        volumes = sorted(os.listdir(os.path.join(work_dir, "volumes")))
        print("  volumes used: %s" % ", ".join(
            "%s (%s)" % (v, ", ".join(sorted(os.listdir(os.path.join(work_dir, "volumes", v))))
                         or "empty") for v in volumes))
        codes = topology.stop()
        print("  SIGTERM exit codes: %s" % ", ".join("%s %d" % item for item in codes.items()))
        check(all(code == 0 for code in codes.values()),
              "a service did not exit 0 on SIGTERM: %s" % codes)
        passed = True
        return volumes
    except TestFailure:
        for replica in topology.started:
            print("--- %s log (%s):\n%s" % (replica.name, replica.log_path, tail(replica.log_path)))
        raise
    finally:
        topology.kill()
        if passed:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            print("  kept %s for inspection" % work_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--build-dir", required=True)
    args = parser.parse_args()
    source_dir = os.path.abspath(args.source_dir)
    build_dir = os.path.abspath(args.build_dir)

    with open(os.path.join(source_dir, "deploy", "docker", "Dockerfile")) as dockerfile:
        text = dockerfile.read()
    for image_path in (IMAGE_MODELS_DIR + "/", "WORKDIR " + IMAGE_WORKDIR):
        check(image_path in text, "deploy/docker/Dockerfile no longer has %s; update the "
              "translation in this test" % image_path)

    volumes = run_scenario("sqlite", source_dir, build_dir, None, {})
    check("kabar-data" in volumes, "the store did not use the kabar-data volume")
    volumes = run_scenario("tls", source_dir, build_dir, None, {}, tls=True)
    check("kabar-data" in volumes, "the store did not use the kabar-data volume")

    server_url = os.environ.get("KABAR_TEST_POSTGRES_URL", "")
    if not server_url:
        print("[postgres] skipped: KABAR_TEST_POSTGRES_URL is unset "
              "(scripts/postgres.sh start DIR prints one)")
        return 0
    database = TestDatabase(server_url)
    try:
        env_file = os.path.join(source_dir, "deploy", "postgres.env")
        volumes = run_scenario("postgres", source_dir, build_dir, env_file,
                               {"postgres": lambda url: database.url})
        check("kabar-data" not in volumes, "the store used SQLite, not PostgreSQL")
        count = database.psql(database.url, "SELECT count(*) FROM kabar_articles").strip()
        print("  PostgreSQL database %s holds %s articles" % (database.name, count))
        check(count == "36", "expected 36 articles in PostgreSQL, found %s" % count)
    finally:
        database.drop()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestFailure as failure:
        print("FAIL: %s" % failure)
        sys.exit(1)
