"""The providers whose check is one documented read-only HTTP call, as data.

Each entry names the provider's own API host and documentation; docs/validation.md lists
them. A secret is sent nowhere else (a user may only name another base URL for a provider
with ``--validate-endpoint``). Order is by how often a provider's keys leak.
"""

from __future__ import annotations

import json

from leakscan.validate.providers.http_check import HttpCheck

_JSON = (("Accept", "application/json"),)


def _graphql(query: str) -> bytes:
    return json.dumps({"query": query}).encode()


CHECKS: tuple[HttpCheck, ...] = (
    HttpCheck(
        provider="github",
        rules=(
            "leakscan.github.pat-classic",
            "leakscan.github.pat-fine-grained",
            "leakscan.github.oauth",
            "leakscan.github.user-to-server",
        ),
        base="https://api.github.com",
        path="/user",
        headers=(("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")),
        identity="{login}",
        scopes_header="X-OAuth-Scopes",
        doc="https://docs.github.com/en/rest/users/users#get-the-authenticated-user",
        proves="the token authenticates as a user: its login, and its OAuth scopes "
        "(classic tokens; fine-grained tokens send no scope header)",
    ),
    HttpCheck(
        provider="gitlab",
        rules=("leakscan.gitlab.pat",),
        base="https://gitlab.com/api/v4",
        path="/personal_access_tokens/self",
        auth="header:PRIVATE-TOKEN",
        identity="token {name} of user {user_id}",
        scopes_field="scopes",
        require=("active", "True"),
        doc="https://docs.gitlab.com/api/personal_access_tokens/"
        "#get-details-on-a-personal-access-token",
        proves="the token is active: its name, its user id and its scopes",
    ),
    HttpCheck(
        provider="slack",
        rules=("leakscan.slack.bot-token", "leakscan.slack.user-token"),
        base="https://slack.com/api",
        path="/auth.test",
        method="POST",
        identity="{user} @ {team}",
        ok_field="ok",
        invalid_errors=frozenset(
            {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
        ),
        doc="https://docs.slack.dev/reference/methods/auth.test",
        proves="the token authenticates: its user (or bot) and workspace",
    ),
    HttpCheck(
        provider="stripe",
        rules=(
            "leakscan.stripe.secret-key",
            "leakscan.stripe.restricted-key",
            "leakscan.stripe.test-secret-key",
        ),
        base="https://api.stripe.com",
        path="/v1/account",
        identity="{id} {email}",
        authenticated_statuses=frozenset({403}),
        doc="https://docs.stripe.com/api/accounts/retrieve",
        proves="the key authenticates: the account id (a restricted key without account "
        "read permission answers 403, which still proves it live)",
    ),
    HttpCheck(
        provider="openai",
        rules=(
            "leakscan.openai.project-key",
            "leakscan.openai.service-account-key",
            "leakscan.openai.legacy-key",
        ),
        base="https://api.openai.com/v1",
        path="/models",
        authenticated_statuses=frozenset({403}),
        doc="https://platform.openai.com/docs/api-reference/models/list",
        proves="the key authenticates (no identity: the call lists models)",
    ),
    HttpCheck(
        provider="openai-admin",
        rules=("leakscan.openai.admin-key",),
        base="https://api.openai.com/v1",
        path="/organization/projects?limit=1",
        identity="project {data.0.name}",
        doc="https://platform.openai.com/docs/api-reference/projects/list",
        proves="the admin key authenticates to its organization",
    ),
    HttpCheck(
        provider="anthropic",
        rules=("leakscan.anthropic.api-key",),
        base="https://api.anthropic.com",
        path="/v1/models?limit=1",
        auth="header:x-api-key",
        headers=(("anthropic-version", "2023-06-01"),),
        doc="https://docs.anthropic.com/en/api/models-list",
        proves="the key authenticates (no identity: the call lists models)",
    ),
    HttpCheck(
        provider="huggingface",
        rules=("leakscan.huggingface.access-token",),
        base="https://huggingface.co",
        path="/api/whoami-v2",
        identity="{name} (role {auth.accessToken.role})",
        doc="https://huggingface.co/docs/huggingface_hub/package_reference/hf_api"
        "#huggingface_hub.HfApi.whoami",
        proves="the token authenticates: the user or organisation and the token's role",
    ),
    HttpCheck(
        provider="npm",
        rules=("leakscan.npm.access-token",),
        base="https://registry.npmjs.org",
        path="/-/whoami",
        identity="{username}",
        doc="https://docs.npmjs.com/cli/commands/npm-whoami",
        proves="the token authenticates to the registry: its user name",
    ),
    HttpCheck(
        provider="sendgrid",
        rules=("leakscan.sendgrid.api-key",),
        base="https://api.sendgrid.com",
        path="/v3/scopes",
        scopes_field="scopes",
        authenticated_statuses=frozenset({403}),
        doc="https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions/"
        "retrieve-a-list-of-scopes-for-which-this-user-has-access",
        proves="the key authenticates: the scopes it was given",
    ),
    HttpCheck(
        provider="datadog",
        rules=("leakscan.datadog.api-key",),
        base="https://api.datadoghq.com",
        path="/api/v1/validate",
        auth="header:DD-API-KEY",
        ok_field="valid",
        invalid_statuses=frozenset({401, 403}),
        doc="https://docs.datadoghq.com/api/latest/authentication/#validate-api-key",
        proves="the API key is valid on the US1 site (other sites: --validate-endpoint)",
    ),
    HttpCheck(
        provider="digitalocean",
        rules=("leakscan.digitalocean.pat", "leakscan.digitalocean.oauth-token"),
        base="https://api.digitalocean.com",
        path="/v2/account",
        identity="{account.email} ({account.status})",
        doc="https://docs.digitalocean.com/reference/api/digitalocean/#tag/Account",
        proves="the token authenticates: the account's email and status",
    ),
    HttpCheck(
        provider="twilio",
        rules=("leakscan.twilio.api-key",),
        partner_rule="leakscan.twilio.auth-token",
        base="https://api.twilio.com",
        path="/2010-04-01/Accounts.json?PageSize=1",
        auth="basic-pair",
        identity="{accounts.0.sid} {accounts.0.friendly_name}",
        doc="https://www.twilio.com/docs/iam/api/account#read-multiple-account-resources",
        proves="the API key SID and its secret (found in the same place) authenticate: the account",
    ),
    HttpCheck(
        provider="mailgun",
        rules=("leakscan.mailgun.api-key", "leakscan.mailgun.api-key-v2"),
        base="https://api.mailgun.net",
        path="/v3/domains?limit=1",
        auth="basic-password:api",
        identity="{items.0.name}",
        authenticated_statuses=frozenset({403}),
        doc="https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/"
        "tag/Domains/",
        proves="the key authenticates on the US region (EU: --validate-endpoint "
        "mailgun=https://api.eu.mailgun.net): a sending domain",
    ),
    HttpCheck(
        provider="postmark",
        rules=("leakscan.postmark.server-token",),
        base="https://api.postmarkapp.com",
        path="/server",
        auth="header:X-Postmark-Server-Token",
        identity="{Name}",
        doc="https://postmarkapp.com/developer/api/server-api",
        proves="the server token authenticates: the server's name",
    ),
    HttpCheck(
        provider="heroku",
        rules=("leakscan.heroku.api-key", "leakscan.heroku.api-key-v2"),
        base="https://api.heroku.com",
        path="/account",
        headers=(("Accept", "application/vnd.heroku+json; version=3"),),
        identity="{email}",
        doc="https://devcenter.heroku.com/articles/platform-api-reference#account-info",
        proves="the key authenticates: the account's email",
    ),
    HttpCheck(
        provider="linear",
        rules=("leakscan.linear.api-key",),
        base="https://api.linear.app",
        path="/graphql",
        method="POST",
        auth="prefix:",
        body=_graphql("{ viewer { id name email } }"),
        identity="{data.viewer.email}",
        invalid_statuses=frozenset({400, 401}),
        doc="https://linear.app/developers/graphql#authentication",
        proves="the key authenticates: the viewer's email (a read-only query)",
    ),
    HttpCheck(
        provider="notion",
        rules=("leakscan.notion.integration-token", "leakscan.notion.legacy-token"),
        base="https://api.notion.com",
        path="/v1/users/me",
        headers=(("Notion-Version", "2022-06-28"),),
        identity="{name}",
        doc="https://developers.notion.com/reference/get-self",
        proves="the token authenticates: its bot user's name",
    ),
    HttpCheck(
        provider="discord",
        rules=("leakscan.discord.bot-token",),
        base="https://discord.com/api/v10",
        path="/users/@me",
        auth="prefix:Bot ",
        identity="{username}",
        doc="https://discord.com/developers/docs/resources/user#get-current-user",
        proves="the bot token authenticates: the bot's user name",
    ),
    HttpCheck(
        provider="telegram",
        rules=("leakscan.telegram.bot-token",),
        base="https://api.telegram.org",
        path="/bot{secret}/getMe",
        auth="path",
        identity="@{result.username}",
        ok_field="ok",
        invalid_statuses=frozenset({401, 404}),
        doc="https://core.telegram.org/bots/api#getme",
        proves="the bot token authenticates: the bot's user name",
    ),
    HttpCheck(
        provider="sentry",
        rules=("leakscan.sentry.user-token",),
        base="https://sentry.io",
        path="/api/0/organizations/",
        identity="{0.slug}",
        authenticated_statuses=frozenset({403}),
        doc="https://docs.sentry.io/api/users/list-your-organizations/",
        proves="the token authenticates: an organisation it can see",
    ),
    HttpCheck(
        provider="newrelic",
        rules=("leakscan.newrelic.user-key",),
        base="https://api.newrelic.com",
        path="/graphql",
        method="POST",
        auth="header:API-Key",
        body=_graphql("{ actor { user { email name } } }"),
        identity="{data.actor.user.email}",
        invalid_statuses=frozenset({401, 403}),
        doc="https://docs.newrelic.com/docs/apis/nerdgraph/get-started/"
        "introduction-new-relic-nerdgraph/",
        proves="the user key authenticates: the user's email (a read-only query)",
    ),
    HttpCheck(
        provider="cloudflare",
        rules=("leakscan.cloudflare.api-token",),
        base="https://api.cloudflare.com/client/v4",
        path="/user/tokens/verify",
        identity="token {result.id}",
        ok_field="success",
        require=("result.status", "active"),
        invalid_statuses=frozenset({400, 401}),
        doc="https://developers.cloudflare.com/api/resources/user/subresources/tokens/"
        "methods/verify/",
        proves="the token is active (disabled or expired tokens are invalid)",
    ),
    HttpCheck(
        provider="terraform",
        rules=("leakscan.terraform.cloud-token",),
        base="https://app.terraform.io/api/v2",
        path="/account/details",
        headers=(("Accept", "application/vnd.api+json"),),
        identity="{data.attributes.username}",
        doc="https://developer.hashicorp.com/terraform/cloud-docs/api-docs/account"
        "#get-your-account-details",
        proves="the token authenticates: the user (or team/organization token's name)",
    ),
    HttpCheck(
        provider="circleci",
        rules=("leakscan.circleci.personal-token",),
        base="https://circleci.com/api/v2",
        path="/me",
        auth="header:Circle-Token",
        identity="{login}",
        doc="https://circleci.com/docs/api/v2/index.html#operation/getCurrentUser",
        proves="the personal token authenticates: the user's login",
    ),
    HttpCheck(
        provider="doppler",
        rules=("leakscan.doppler.personal-token", "leakscan.doppler.service-token"),
        base="https://api.doppler.com",
        path="/v3/me",
        identity="{name} ({type})",
        doc="https://docs.doppler.com/reference/auth-me",
        proves="the token authenticates: its name and type",
    ),
)
