"""What CloudTrail's API gained after the botocore this package runs on.

The control API parses and shapes every request by botocore's own model of
``cloudtrail`` (:mod:`recorder.api.protocol`), so a member the installed model does not
name is dropped as unknown. The runtime botocore is pinned by aiobotocore (1.40.x
here), while the clients users point at the API are newer: the ``aws`` CLI and
botocore from 1.41 (November 2025) send ``PutEventConfiguration``'s ``TrailName`` and
``AggregationConfigurations`` and ``InsightSelector.EventCategories``.

These are the shapes exactly as botocore 1.43's ``cloudtrail`` model has them (the CloudTrail
API Reference: PutEventConfiguration, GetEventConfiguration, AggregationConfiguration,
InsightSelector), documentation left out. :func:`extended` adds each only where the
installed model lacks it, so a newer botocore's own shapes always win.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_STRING = {"shape": "String"}
_AGGREGATIONS = {"shape": "AggregationConfigurations"}

#: New shapes, whole.
SHAPES: Mapping[str, Mapping[str, Any]] = {
    "AggregationConfigurations": {
        "type": "list",
        "member": {"shape": "AggregationConfiguration"},
        "max": 1,
    },
    "AggregationConfiguration": {
        "type": "structure",
        "required": ["Templates", "EventCategory"],
        "members": {
            "Templates": {"shape": "Templates"},
            "EventCategory": {"shape": "EventCategoryAggregation"},
        },
    },
    "EventCategoryAggregation": {"type": "string", "enum": ["Data"]},
    "Templates": {"type": "list", "member": {"shape": "Template"}, "max": 50, "min": 1},
    "Template": {"type": "string", "enum": ["API_ACTIVITY", "RESOURCE_ACCESS", "USER_ACTIONS"]},
    "SourceEventCategories": {"type": "list", "member": {"shape": "SourceEventCategory"}},
    "SourceEventCategory": {"type": "string", "enum": ["Management", "Data"]},
}

#: Members added to shapes the installed model has.
MEMBERS: Mapping[str, Mapping[str, Mapping[str, str]]] = {
    "PutEventConfigurationRequest": {
        "TrailName": _STRING,
        "AggregationConfigurations": _AGGREGATIONS,
    },
    "PutEventConfigurationResponse": {
        "TrailARN": _STRING,
        "AggregationConfigurations": _AGGREGATIONS,
    },
    "GetEventConfigurationRequest": {"TrailName": _STRING},
    "GetEventConfigurationResponse": {
        "TrailARN": _STRING,
        "AggregationConfigurations": _AGGREGATIONS,
    },
    "InsightSelector": {"EventCategories": {"shape": "SourceEventCategories"}},
}

#: Since a trail's PutEventConfiguration sends neither, they are no longer required.
NOT_REQUIRED: Mapping[str, frozenset[str]] = {
    "PutEventConfigurationRequest": frozenset({"MaxEventSize", "ContextKeySelectors"}),
}


def extended(model: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``service-2`` JSON ``model`` with what it lacks of the above."""
    out = copy.deepcopy(dict(model))
    shapes = out["shapes"]
    for name, shape in SHAPES.items():
        shapes.setdefault(name, copy.deepcopy(dict(shape)))
    for name, members in MEMBERS.items():
        target = shapes[name]
        added = False
        for member, ref in members.items():
            if member not in target["members"]:
                target["members"][member] = dict(ref)
                added = True
        if added and name in NOT_REQUIRED and "required" in target:
            target["required"] = [r for r in target["required"] if r not in NOT_REQUIRED[name]]
    return out
