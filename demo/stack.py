"""Everything `incident-bot demo` runs, started in order and stopped in reverse.

- a moto server seeded like the seeds' production (ECS, task-definition revisions, SSM flags,
  CloudWatch metrics with the latency and accuracy steps), standing in for AWS;
- the local PagerDuty (REST, Events API and signed webhooks);
- a stand-in AI orchestrator: its providers' health URLs and its routing admin API (seed 003);
- the model worker, as its own process like in production (the bot never imports torch);
- the local Slack sandbox with its web UI;
- the bot itself, on SQLite in the demo's state folder.

Each part listens on loopback only. The state folder keeps the database between runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.app import create_app
from bot.config.settings import Settings
from demo.config import DEMO_ORCHESTRATOR_TOKEN_ENV, DEMO_PROVIDERS, demo_config
from demo.scenarios import Targets, demo_scenarios
from demo.welcome import welcome_text
from demo.worker_process import free_port, stop_process, wait_ready
from sandbox.ai_providers import ProviderOrchestrator
from sandbox.aws_seed import seed_investigations, seed_metrics, seed_production, seed_security
from sandbox.pagerduty_api import DEFAULT_TOKEN, LocalPagerDutyServer
from sandbox.runner import ThreadedServer
from sandbox.slack_api import LocalSlackServer
from sandbox.web import BotLink

log = logging.getLogger(__name__)

WORKER_READY_TIMEOUT = 300.0
# A deliberately weaker incident-text (a twentieth of the texts), for the bad deploy of seed 001.
WEAK_TEXT_FRACTION = "0.05"
_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class DemoOptions:
    state_dir: Path = Path("var/demo")
    registry: Path = Path("var/models")
    host: str = "127.0.0.1"
    port: int = 3000
    reset: bool = False
    with_worker: bool = True


@dataclass(frozen=True)
class RunningDemo:
    url: str  # the sandbox page
    bot_url: str
    worker_url: str | None
    aws_url: str


def _cli() -> str:
    return str(Path(sys.executable).with_name("incident-bot"))


def prepare_models(registry: Path, out: IO[str]) -> bool:
    """Train the models the first time (progress bars on the terminal); later runs reuse them.

    Returns whether a registry with models is there to serve.
    """
    from inference.registry import LocalRegistry  # no torch: the registry's own listing

    if not LocalRegistry(registry).models():
        print(f"Training the models into {registry} (the first run only; a few minutes)…", file=out, flush=True)
        subprocess.run([_cli(), "models", "--registry", str(registry), "train"], check=True)
    # The weaker version is quick to train and is only published, never served on its own.
    subprocess.run([_cli(), "models", "--registry", str(registry), "train", "--model", "incident-text", "--quick",
                    "--train-fraction", WEAK_TEXT_FRACTION, "--no-promote"], check=True,
                   stdout=subprocess.DEVNULL)
    return bool(LocalRegistry(registry).models())


class DemoStack:
    """``with DemoStack(options) as demo:`` starts everything; leaving the block stops it all."""

    def __init__(self, options: DemoOptions, *, out: IO[str] = sys.stdout) -> None:
        self.options = options
        self.out = out
        self._stack = ExitStack()
        self.sandbox: LocalSlackServer | None = None
        self.pagerduty: LocalPagerDutyServer | None = None
        self.providers: ProviderOrchestrator | None = None

    def __enter__(self) -> RunningDemo:
        try:
            return self._start()
        except BaseException:
            self._stack.close()
            raise

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def _start(self) -> RunningDemo:
        options = self.options
        if options.reset and options.state_dir.exists():
            shutil.rmtree(options.state_dir)
        options.state_dir.mkdir(parents=True, exist_ok=True)
        for key, value in _AWS_ENV.items():
            os.environ.setdefault(key, value)

        aws_url = self._start_aws()
        pagerduty = self._stack.enter_context(LocalPagerDutyServer())
        self.pagerduty = pagerduty
        worker_url = self._start_worker() if options.with_worker else None
        sandbox = LocalSlackServer(host=options.host, port=options.port)
        # The workspace outlives the process, as the database does: channels of earlier incidents stay.
        saved_workspace = options.state_dir / "slack-workspace.pickle"
        sandbox.workspace.load(saved_workspace)
        self._stack.enter_context(sandbox)
        self._stack.callback(sandbox.workspace.save, saved_workspace)
        self.sandbox = sandbox

        secret, token, pd_secret = secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16)
        providers = self._start_providers()
        config = demo_config(orchestrator_url=providers.base_url)
        settings = Settings(
            slack_bot_token="xoxb-demo", slack_signing_secret=secret, slack_api_url=sandbox.base_url,
            database_url=f"sqlite:///{(options.state_dir / 'incident-bot.db').resolve()}",
            aws_endpoint_url=aws_url, worker_url=worker_url or "http://127.0.0.1:9",
            eventbridge_token=token, pagerduty_webhook_secrets=pd_secret, pagerduty_api_url=pagerduty.url,
            pagerduty_api_token=DEFAULT_TOKEN, pagerduty_from_email="incident-bot@example.com",
            pagerduty_events_url=pagerduty.url, slack_post_interval=0.2, outbox_poll_interval=0.1,
            headline_refresh_interval=30,
        ).with_config(config)
        bot = ThreadedServer(create_app(settings)).start(timeout=60)
        self._stack.callback(bot.stop)
        pagerduty.webhook_sender(f"{bot.url}/webhooks/pagerduty", [pd_secret])
        sandbox.attach_bot(BotLink(bot_url=bot.url, signing_secret=secret))
        sandbox.add_scenarios(demo_scenarios(Targets(bot_url=bot.url, eventbridge_token=token,
                                                     worker_url=worker_url, pagerduty=pagerduty,
                                                     providers=providers, aws_url=aws_url,
                                                     database_url=settings.database_url)))
        sandbox.web.greet(welcome_text(config))
        return RunningDemo(url=sandbox.root_url or "", bot_url=bot.url, worker_url=worker_url, aws_url=aws_url)

    def _start_aws(self) -> str:
        from moto.server import (
            ThreadedMotoServer,  # the demo's AWS stand-in; a dev/demo dependency
        )

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        production = seed_production(url)
        seed_metrics(url, now=datetime.now(UTC))
        seed_investigations(url, production, now=datetime.now(UTC))
        seed_security(url)  # the leaked-key scenario's IAM user and key, secret and evidence bucket
        return url

    def _start_providers(self) -> ProviderOrchestrator:
        """Seed 003's AI orchestrator stand-in; the bot reads its admin token from the environment,
        as it would in production, never from the config."""
        token = secrets.token_hex(16)
        os.environ[DEMO_ORCHESTRATOR_TOKEN_ENV] = token
        self.providers = self._stack.enter_context(ProviderOrchestrator(DEMO_PROVIDERS, token=token))
        return self.providers

    def _start_worker(self) -> str | None:
        registry = self.options.registry
        if not prepare_models(registry, self.out):
            print("No models: the demo runs without the worker (Diagnose will say so).", file=self.out)
            return None
        port = free_port()
        log_path = self.options.state_dir / "worker.log"
        log_file = self._stack.enter_context(log_path.open("ab"))
        worker = subprocess.Popen([_cli(), "worker", "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=log_file, stderr=subprocess.STDOUT,
                                  env={**os.environ, "MODEL_REGISTRY": str(registry.resolve())})
        self._stack.callback(stop_process, worker)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, worker, timeout=WORKER_READY_TIMEOUT, where=f"; see {log_path}")
        return url
