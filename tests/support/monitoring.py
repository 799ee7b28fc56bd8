"""Read a running bot's monitoring endpoints the way Prometheus and an orchestrator do.

Over HTTP on the loopback listener, parsed with prometheus-client's own text parser
(what a Prometheus server accepts), so a test checks what is exported, not an
object inside the bot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: list[Sample]

    def value(self, name: str, **labels: str) -> float:
        """The one sample named ``name`` whose labels include ``labels``."""
        hits = [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(hits) == 1, f"{name}{labels}: {len(hits)} samples"
        return hits[0].value

    def label_values(self) -> Iterator[str]:
        for sample in self.samples:
            yield from sample.labels.values()


def parse(text: str) -> Scrape:
    samples = [Sample(s.name, dict(s.labels), s.value)
               for family in text_string_to_metric_families(text) for s in family.samples]
    return Scrape(text, samples)


async def scrape(port: int) -> Scrape:
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert r.status_code == 200, r.status_code
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers
    return parse(r.text)


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")
