"""The admin API (`/admin`): reset, tenants, faults, settings, stats and source data. Never faulted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Response
from starlette.responses import JSONResponse

from services.mock_platforms.admin_models import (
    DmpGenerate,
    DmpRecords,
    PlatformSettings,
    SegmentDrift,
    TenantRegistration,
)
from services.mock_platforms.dmp_records import DmpDataset, generate_records
from services.mock_platforms.faults import FaultSpec
from services.mock_platforms.platform_errors import PlatformHTTPError
from services.mock_platforms.platforms import Platform, UnknownPlatformError, parse_platform
from services.mock_platforms.state import MockState, Segment

# Fault knobs that only make sense on one platform.
_PLATFORM_ONLY_FAULTS = {
    "expire_tokens": Platform.LIVERAMP,
    "repeat_cursor": Platform.DMP,
    "shrink_after_pages": Platform.DMP,
    "shrink_by": Platform.DMP,
}
# The platforms whose segments can drift, and where each keeps them.
_DRIFTABLE: dict[Platform, Callable[[MockState], dict[str, Segment]]] = {
    Platform.CUSTOM_API: lambda state: state.custom_api.segments,
    Platform.LIVERAMP: lambda state: state.liveramp.segments,
}
# Each setting's platform; the setting is the attribute of the same name on that platform's store.
_PLATFORM_SETTINGS = {
    "processing_delay_s": Platform.TRADEDESK,
    "approval_delay_s": Platform.TRADEDESK,
    "rate_limit": Platform.TRADEDESK,
    "rate_limit_window_s": Platform.TRADEDESK,
    "token_ttl_s": Platform.LIVERAMP,
    "review_delay_s": Platform.LIVERAMP,
}
_SETTINGS_STORES: dict[Platform, Callable[[MockState], object]] = {
    Platform.TRADEDESK: lambda state: state.tradedesk,
    Platform.LIVERAMP: lambda state: state.liveramp,
}


def _invalid(message: str) -> PlatformHTTPError:
    return PlatformHTTPError(400, {"error": "invalid_request", "message": message})


def _refuse_foreign(knobs: Iterable[str], owners: Mapping[str, Platform], platform: Platform) -> None:
    """A 400 for the first knob that belongs to another platform than the one addressed."""
    for knob in knobs:
        owner = owners.get(knob)
        if owner is not None and owner is not platform:
            raise _invalid(f"{knob} applies to {owner.value} only")


def _platform(name: str) -> Platform:
    try:
        return parse_platform(name)
    except UnknownPlatformError as exc:
        raise PlatformHTTPError(404, {"error": "not_found", "message": str(exc)}) from None


def _faults_view(state: MockState, platform: Platform) -> dict[str, Any]:
    faults = state.platforms[platform].faults
    return {
        "platform": platform.value,
        "faults": faults.standing.model_dump(),
        "request_faults_active": faults.spec is not None,
        "remaining": faults.remaining if faults.spec is not None else 0,
    }


def _drift(state: MockState, platform: Platform, segment_id: str, change: SegmentDrift) -> dict[str, Any]:
    """What another user of the platform does to a segment: rename it, reprice it, turn it off, or delete it."""
    held = _DRIFTABLE.get(platform)
    if held is None:
        raise _invalid(f"drift is not simulated on {platform.value}")
    segments = held(state)
    if segment_id not in segments:
        raise PlatformHTTPError(404, {"error": f"no segment {segment_id!r}"})
    if change.remove:
        del segments[segment_id]
        return {"removed": segment_id}
    segment = segments[segment_id]
    if change.rename is not None:
        segment["name"] = change.rename
    if change.price is not None:
        if platform is Platform.LIVERAMP and segment.get("pricing"):
            for price in segment["pricing"]["prices"]:
                price["cpm"] = change.price
        else:
            segment["price"] = change.price
    if change.disable:
        segment["status"] = "DISABLED" if platform is Platform.LIVERAMP else "inactive"
    return dict(segment)


def _add_counter_routes(router: APIRouter, state: MockState) -> None:
    """What a test or the bench reads of what a platform saw."""

    @router.get("/stats/{platform_name}")
    async def stats(platform_name: str) -> Response:
        platform = _platform(platform_name)
        counters = state.platforms[platform].stats
        return JSONResponse(
            {
                "platform": platform.value,
                "segments": len(state.held_segments(platform)),
                "creates_by_key": dict(counters.creates_by_key),
                "duplicates": counters.duplicates,
                "requests": counters.requests,
                "writes": counters.writes,
                "rate_limited": counters.rate_limited,
            }
        )

    @router.get("/creates/{platform_name}")
    async def create_times(platform_name: str, since: float = 0.0) -> Response:
        """When each of the latest creates arrived (Unix seconds) at or after `since`: rate-budget checks."""
        times = state.platforms[_platform(platform_name)].stats.create_times
        return JSONResponse({"create_times": [at for at in times if at >= since]})


def build_admin_router(state: MockState) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("/health")
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    @router.post("/reset", status_code=204)
    async def reset() -> Response:
        state.reset()
        return Response(status_code=204)

    @router.post("/tenants", status_code=201)
    async def register_tenant(registration: TenantRegistration) -> Response:
        platform = _platform(registration.platform)
        tenants = state.platforms[platform].tenants
        tenants.append(dict(registration.credentials))
        return JSONResponse({"platform": platform.value, "tenants": len(tenants)}, 201)

    @router.delete("/tenants/{platform_name}", status_code=204)
    async def forget_tenants(platform_name: str) -> Response:
        state.platforms[_platform(platform_name)].tenants.clear()
        return Response(status_code=204)

    @router.put("/faults/{platform_name}")
    async def set_faults(platform_name: str, spec: FaultSpec) -> Response:
        platform = _platform(platform_name)
        # A platform-only knob set to its off value is harmless anywhere.
        switched_on = (knob for knob in spec.model_fields_set if getattr(spec, knob))
        _refuse_foreign(switched_on, _PLATFORM_ONLY_FAULTS, platform)
        state.platforms[platform].faults.install(spec)
        if spec.expire_tokens:
            # Expired, not forgotten: LiveRamp answers an expired token with 403.
            for grant in state.liveramp.tokens.values():
                grant.expires_at = 0.0
        return JSONResponse(_faults_view(state, platform))

    @router.get("/faults/{platform_name}")
    async def get_faults(platform_name: str) -> Response:
        return JSONResponse(_faults_view(state, _platform(platform_name)))

    @router.delete("/faults/{platform_name}", status_code=204)
    async def clear_faults(platform_name: str) -> Response:
        state.platforms[_platform(platform_name)].faults.clear()
        return Response(status_code=204)

    @router.put("/settings/{platform_name}")
    async def set_settings(platform_name: str, settings: PlatformSettings) -> Response:
        _refuse_foreign(settings.model_fields_set, _PLATFORM_SETTINGS, _platform(platform_name))
        for knob, owner in _PLATFORM_SETTINGS.items():
            value = getattr(settings, knob)
            if value is not None:
                setattr(_SETTINGS_STORES[owner](state), knob, value)
        if settings.rate_limit is not None:
            state.tradedesk.quota_windows.clear()
        return JSONResponse(
            {
                knob: getattr(_SETTINGS_STORES[owner](state), knob)
                for knob, owner in _PLATFORM_SETTINGS.items()
            }
        )

    _add_counter_routes(router, state)

    @router.get("/segments/{platform_name}")
    async def segments(platform_name: str) -> Response:
        platform = _platform(platform_name)
        return JSONResponse({"platform": platform.value, "segments": state.held_segments(platform)})

    @router.post("/drift/{platform_name}/{segment_id}")
    async def drift(platform_name: str, segment_id: str, change: SegmentDrift) -> Response:
        return JSONResponse(_drift(state, _platform(platform_name), segment_id, change))

    @router.put("/dmp/records")
    async def set_dmp_records(body: DmpRecords) -> Response:
        state.dmp = DmpDataset(body.records)
        return JSONResponse({"total": len(state.dmp)})

    @router.post("/dmp/generate")
    async def generate_dmp_records(body: DmpGenerate) -> Response:
        # 100,000 records take about a second to build: off the event loop, then swapped in.
        state.dmp = await asyncio.to_thread(lambda: DmpDataset(generate_records(body.count, body.seed)))
        return JSONResponse({"total": len(state.dmp)})

    @router.get("/indexexchange/files")
    async def uploaded_files() -> Response:
        files = [
            {"path": f.path, "size": len(f.content), "segments": f.segment_ids}
            for f in state.indexexchange.files.values()
        ]
        return JSONResponse({"files": files})

    return router
