"""The REST API's vocabulary: pydantic models, from which the OpenAPI document is generated.

No model has a field that could carry a secret value out: answers go in (`Answer.value`) and
never come back; change sets and plans carry names only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Model):
    """Every error response: what went wrong and what to do."""

    error: str
    help: str = ""


class Push(_Model):
    """A deployment: the project's `.mora` files, by path relative to the project directory."""

    files: dict[str, str] = Field(
        description="relative path (`main.mora`, `apps/media.mora`) -> the file's text",
        max_length=500,
    )


class Answer(_Model):
    """The answer to one input; write-only: it is stored encrypted and never returned."""

    value: str = Field(min_length=1, max_length=65536)


class Changes(_Model):
    """A deployment compared with what runs (names only, never values)."""

    deployment: int
    project: str
    empty: bool
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]
    restart: dict[str, list[str]]
    secrets_changed: list[str]
    held: list[str]
    new_inputs: list[str]
    answered_inputs: list[str]
    new_services: list[str] = Field(description="added, plus new services held for an input")
    restarts: list[str] = Field(description="services that will be recreated")
    new_input_prompts: dict[str, str]


class DeploymentOut(_Model):
    id: int
    project: str
    pushed_at: str
    digest: str
    status: Literal["pushed", "applying", "applied", "superseded"]
    files: list[str]


class PushResult(_Model):
    deployment: DeploymentOut
    changes: Changes


class ServiceOut(_Model):
    project: str
    name: str
    state: Literal["deployed", "out of date", "held", "not deployed"]
    health: str
    url: str | None
    stage: int
    image: str
    depends_on: list[str]
    waits_for: list[str]


class InputOut(_Model):
    project: str
    name: str
    type: str
    service: str | None
    after: list[str]
    prompt: str | None
    description: str | None
    stage: int
    ready: bool = Field(description="the services it waits for are deployed")
    holds: list[str] = Field(description="services that start once it is answered")
    secret: bool


class AnswerResult(_Model):
    stored: bool
    run: int | None = Field(description="the apply started to deploy what the answer unblocks")


class PlanQuestion(_Model):
    name: str
    service: str | None
    after: list[str]
    prompt: str | None
    type: str


class PlanStage(_Model):
    index: int
    kind: Literal["deploy", "input"]
    services: list[str] | None = None
    inputs: list[PlanQuestion] | None = None


class PlanOut(_Model):
    stages: list[PlanStage]
    answered_inputs: list[str]
    held_services: list[str]


class RunOut(_Model):
    id: int
    deployment: int
    project: str
    kind: Literal["apply", "answer"]
    started_at: str
    finished_at: str | None
    status: Literal["queued", "running", "ok", "failed"]
    summary: str


class LogLineOut(_Model):
    seq: int
    elapsed: float
    service: str
    status: str
    detail: str


class RunDetail(RunOut):
    lines: list[LogLineOut]


class ProjectOut(_Model):
    name: str
    current: int | None = Field(description="the deployment that runs (or the only one pushed)")
    latest: int | None = Field(description="the last deployment pushed")
