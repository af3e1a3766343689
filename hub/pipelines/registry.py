"""The pipelines ``hub run <name>`` knows: name -> a function of the settings returning a summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.pipelines import dhis2_metadata_sync, terminology_option_sets
from hub.settings import Settings

Pipeline = Callable[[Settings], dict[str, Any]]

PIPELINES: dict[str, Pipeline] = {
    "dhis2-metadata-sync": dhis2_metadata_sync.run,
    "terminology-option-sets": terminology_option_sets.run,
}
