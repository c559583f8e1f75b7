"""A manifest corpus with planted secrets (built per test session) and a small rule folder.

Every planted secret is random, made at test time. ``Planted`` says where a user must see it:
the file, the line of its key, and the key path the location names.
"""

from __future__ import annotations

import base64
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import github_token, password, random_chars

RULES = r"""
rules:
  - id: test.context-secret
    name: Secret-named value
    pattern: '^\s*["'']?([^\s"'']{8,200})["'']?\s*$'
    keywords: [x]
    context: '(?i)(pass(word|wd)?|secret|token|api[_-]?key|credential|private[_-]?key)'
    tags: [generic]
    entropy: 2.8
    confidence: medium
    examples: [{text: 'k9#Lq2!xzW', secret: 'k9#Lq2!xzW', context: DB_PASSWORD}]  # leakscan:allow (synthetic test value)
    negative_examples: [{text: '${DB_PASSWORD}', context: DB_PASSWORD}]
  - id: test.github
    name: Test GitHub token
    pattern: '\b(ghp_[A-Za-z0-9]{36})\b'
    keywords: [ghp_]
    checksum: github
    entropy: 3.0
    confidence: high
    examples:
      - text: 'GITHUB_TOKEN=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'  # leakscan:allow (synthetic test value)
        secret: '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'  # leakscan:allow (synthetic test value)
    negative_examples: ['ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']
"""

# values that are references or stand-ins: none of them may come out as a secret
PLACEHOLDERS = (
    "${DB_PASSWORD}",
    "$DB_PASSWORD",
    "{{ .Values.db.password }}",
    "$(cat /run/secrets/db_password)",
    "<changeme>",
)


@dataclass(frozen=True)
class Planted:
    secret: str
    file: str  # relative to the corpus root
    line: int
    key: str  # the key path the location names


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _line_of(text: str, marker: str) -> int:
    """1-based line of the first line containing ``marker``."""
    for number, line in enumerate(text.splitlines(), 1):
        if marker in line:
            return number
    raise AssertionError(f"marker {marker!r} not in text")


class Corpus:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.planted: list[Planted] = []

    def write(self, rel: str, text: str, plants: list[tuple[str, str, str]]) -> None:
        """Write a file; ``plants`` are (secret, marker on the key's line, key path)."""
        text = textwrap.dedent(text).lstrip("\n")
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for secret, marker, key in plants:
            self.planted.append(Planted(secret, rel, _line_of(text, marker), key))


def build_corpus(root: Path) -> Corpus:
    c = Corpus(root)
    s = {
        name: password()
        for name in (
            "secret_data",
            "string_data",
            "deploy_env",
            "cron_env",
            "sts_init_env",
            "configmap",
            "kube_token",
            "kube_password",
            "helm_values",
            "helm_prod",
            "compose_anchor",
            "compose_list",
            "compose_map",
            "compose_build",
            "df_env_eq",
            "df_env_space",
            "df_arg",
            "df_curl",
            "df_buildarg",
            "dotenv_export",
            "dotenv_single",
            "dotenv_plain",
            "json",
            "toml",
            "ini",
            "yaml_config",
        )
    }
    gh_secret, gh_kube, gh_clone = github_token(), github_token(), github_token()
    p = PLACEHOLDERS
    c.write(
        "k8s/app.yaml",
        f"""
        apiVersion: v1
        kind: Secret
        metadata:
          name: db
        type: Opaque
        data:
          password: {_b64(s["secret_data"])}
          github: {_b64(gh_secret)}
          empty: ""
        stringData:
          api_token: "{s["string_data"]}"
          ref_password: "{p[0]}"
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: app
        spec:
          template:
            spec:
              containers:
                - name: app
                  image: app:1
                  env:
                    - name: DB_PASSWORD
                      value: "{s["deploy_env"]}"
                    - name: FROM_SECRET_PASSWORD
                      valueFrom:
                        secretKeyRef: {{name: db, key: password}}
                    - name: TEMPLATED_PASSWORD
                      value: "{p[2]}"
                    - name: SHELL_PASSWORD
                      value: "{p[3]}"
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: nightly
        spec:
          schedule: "0 3 * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  containers:
                    - name: job
                      env:
                        - {{name: API_TOKEN, value: "{s["cron_env"]}"}}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: db
        spec:
          template:
            spec:
              initContainers:
                - name: init
                  env:
                    - name: ADMIN_PASSWORD
                      value: {s["sts_init_env"]}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          SMTP_PASSWORD: {s["configmap"]}
          LOG_LEVEL: debug
        """,
        [
            (s["secret_data"], "password: ", "data.password"),
            (gh_secret, "github: ", "data.github"),
            (s["string_data"], "api_token:", "stringData.api_token"),
            (s["deploy_env"], s["deploy_env"], "spec.template.spec.containers[0].env[DB_PASSWORD]"),
            (
                s["cron_env"],
                "API_TOKEN",
                "spec.jobTemplate.spec.template.spec.containers[0].env[API_TOKEN]",
            ),
            (
                s["sts_init_env"],
                s["sts_init_env"],
                "spec.template.spec.initContainers[0].env[ADMIN_PASSWORD]",
            ),
            (s["configmap"], "SMTP_PASSWORD", "data.SMTP_PASSWORD"),
        ],
    )
    c.write(
        "k8s/kubeconfig",
        f"""
        apiVersion: v1
        kind: Config
        clusters:
          - name: prod
            cluster: {{server: "https://10.0.0.1:6443"}}
        users:
          - name: admin
            user:
              token: {s["kube_token"]}
          - name: basic
            user:
              username: admin
              password: {s["kube_password"]}
          - name: certs
            user:
              client-key-data: {_b64(gh_kube)}
        """,
        [
            (s["kube_token"], "token:", "users[admin].user.token"),
            (s["kube_password"], "password:", "users[basic].user.password"),
            (gh_kube, "client-key-data:", "users[certs].user.client-key-data"),
        ],
    )
    c.write("chart/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n", [])
    c.write(
        "chart/values.yaml",
        f"""
        replicas: 2
        db:
          user: app
          password: {s["helm_values"]}
          passwordRef: "{p[2]}"
        """,
        [(s["helm_values"], "password:", "db.password")],
    )
    c.write(
        "chart/values-prod.yaml",
        f"""
        auth:
          token: "{s["helm_prod"]}"
        """,
        [(s["helm_prod"], "token:", "auth.token")],
    )
    c.write(
        "chart/templates/secret.yaml",
        """
        apiVersion: v1
        kind: Secret
        data:
          password: {{ .Values.db.password | b64enc }}
        {{- if .Values.extra }}
          extra: {{ .Values.extra }}
        {{- end }}
        """,
        [],
    )
    c.write(
        "deploy/docker-compose.yml",
        f"""
        x-common: &common
          environment:
            SHARED_SECRET: {s["compose_anchor"]}
        services:
          web:
            <<: *common
            image: nginx
          db:
            image: postgres
            environment:
              - POSTGRES_PASSWORD={s["compose_list"]}
              - HOME
              - REF_PASSWORD={p[0]}
          api:
            image: api
            environment:
              API_SECRET: "{s["compose_map"]}"
              OTHER_PASSWORD: "{p[4]}"
              EMPTY_PASSWORD: ""
            build:
              context: .
              args:
                - NPM_TOKEN={s["compose_build"]}
        """,
        [
            (s["compose_anchor"], "SHARED_SECRET", "services.web.environment[SHARED_SECRET]"),
            (s["compose_list"], "POSTGRES_PASSWORD", "services.db.environment[POSTGRES_PASSWORD]"),
            (s["compose_map"], "API_SECRET", "services.api.environment[API_SECRET]"),
            (s["compose_build"], "NPM_TOKEN", "services.api.build.args[NPM_TOKEN]"),
        ],
    )
    c.write(
        "deploy/Dockerfile",
        f"""
        # syntax=docker/dockerfile:1
        # build: docker build --build-arg REGISTRY_TOKEN={s["df_buildarg"]} .
        FROM alpine:3.20
        ARG API_KEY={s["df_arg"]}
        ENV DB_PASSWORD {s["df_env_space"]}
        ENV APP_ENV=prod \\
            SECRET_KEY="{s["df_env_eq"]}" \\
            REF_PASSWORD=${{DB_PASSWORD}}
        RUN apk add curl git && \\
            curl -fsSL -u deploy:{s["df_curl"]} https://artifacts.example.org/app.tgz -o /a.tgz
        RUN git clone https://{gh_clone}@github.com/example/private.git /src
        """,
        [
            (s["df_buildarg"], "--build-arg", "comment[--build-arg REGISTRY_TOKEN]"),
            (s["df_arg"], "ARG API_KEY", "ARG[API_KEY]"),
            (s["df_env_space"], "ENV DB_PASSWORD", "ENV[DB_PASSWORD]"),
            (s["df_env_eq"], "SECRET_KEY", "ENV[SECRET_KEY]"),
            (s["df_curl"], "curl -fsSL", "RUN[curl -u deploy]"),
            (gh_clone, "git clone", "RUN[url token]"),
        ],
    )
    c.write(
        "app/.env",
        f"""
        # local settings
        export DB_PASSWORD="{s["dotenv_export"]}"  # from the vault
        REDIS_PASSWORD='{s["dotenv_single"]}'
        STRIPE_SECRET={s["dotenv_plain"]} # inline comment
        REF_PASSWORD=${{DB_PASSWORD}}
        EMPTY_TOKEN=
        QUOTED_EMPTY_TOKEN=""
        LOG_LEVEL=debug
        """,
        [
            (s["dotenv_export"], "export DB_PASSWORD", "DB_PASSWORD"),
            (s["dotenv_single"], "REDIS_PASSWORD", "REDIS_PASSWORD"),
            (s["dotenv_plain"], "STRIPE_SECRET", "STRIPE_SECRET"),
        ],
    )
    c.write(
        "app/config.json",
        f"""
        {{
          "name": "app",
          "database": {{
            "host": "db",
            "password": "{s["json"]}"
          }},
          "token": ""
        }}
        """,
        [(s["json"], '"password"', "database.password")],
    )
    c.write(
        "app/config.toml",
        f"""
        title = "app"
        [smtp]
        host = "mail"
        password = "{s["toml"]}"
        """,
        [(s["toml"], "password =", "smtp.password")],
    )
    c.write(
        "app/settings.ini",
        f"""
        [server]
        port = 8080
        [auth]
        ; comment
        secret = {s["ini"]}
        """,
        [(s["ini"], "secret =", "auth.secret")],
    )
    c.write(
        "app/settings.yaml",
        f"""
        server:
          port: 8080
        mail:
          credentials:
            user: app
            password: {s["yaml_config"]}
        """,
        [(s["yaml_config"], "password:", "mail.credentials.password")],
    )
    return c


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("manifests") / "repo")


@pytest.fixture(scope="session")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("manifest-rules")
    (directory / "rules.yaml").write_text(RULES)
    return directory


__all__ = ["PLACEHOLDERS", "Corpus", "Planted", "build_corpus", "random_chars"]
