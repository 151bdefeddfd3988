"""The operating point of verification: where the lines between ``consistent`` and ``suspect`` are drawn.

Chosen by ``python -m bench.verify_rates`` from measured rates (right codes flagged, random codes and near
siblings caught) on the dev data, and stored as plain JSON beside the calibration it was chosen for, with
those rates and the date. A calibrated confidence is only a probability: where a verdict flips is a choice,
and the file says what it costs. Retuning the calibration (``make tune``) moves the confidences, so the
policy records the calibration's sha256 and a mismatch is logged until the rates are measured again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codefinder.indexer.errors import CodefinderError

log = logging.getLogger(__name__)


class VerifyPolicyError(CodefinderError):
    """The verify policy file is missing or unreadable."""


@dataclass(frozen=True)
class VerifyPolicy:
    """Thresholds of the named verdict rules (``search.verify_rules``); a rule with a None threshold is off."""

    # low_confidence: the code's calibrated confidence for the description is below this
    low_confidence_below: float
    # clearly_outranked: the codes likelier than it have together at least this confidence, and this many
    # times the code's
    outranked_at_least: float | None
    outranked_ratio_at_least: float
    # off_topic: below this confidence, and the code's section is none of the best hits' sections
    off_topic_below: float | None
    off_topic_top: int
    # dose_sibling: a sibling is billed per the dose the description states, the code per another
    dose_sibling: bool
    # attribute_conflict: the code states an attribute otherwise than the description and near-top codes do
    attribute_conflict: bool = False
    # not_retrieved: the description does not retrieve the code at all, and its best hit has this confidence
    not_retrieved_top_at_least: float | None = None
    calibration_sha256: str = ""
    chosen_on: str = ""
    how: str = ""
    measured: dict[str, Any] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path, calibration_file: Path | None = None) -> VerifyPolicy:
        if not path.is_file():
            raise VerifyPolicyError(
                f"verify policy {path} is missing (reinstall codefinder, or run python -m bench.verify_rates)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            policy = cls(**data)
        except (OSError, ValueError, TypeError) as error:
            raise VerifyPolicyError(f"verify policy {path} cannot be read: {error}") from error
        if calibration_file is not None and policy.calibration_sha256 != file_sha256(calibration_file):
            log.warning(
                "verify policy %s was chosen for another calibration than %s: its rates no longer hold; "
                "run python -m bench.verify_rates",
                path,
                calibration_file,
            )
        return policy


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
