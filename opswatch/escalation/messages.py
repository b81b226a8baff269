"""What a page says: the SMS (spec 3.2) and the phone call's script (spec 3.1).

When several alerts reach one person on one channel inside the throttle
window, they go out as one summary naming the first and counting the rest. A
summary covers a bounded number of alerts; when more are waiting it says so,
and its ACK/ESC (and digits) then speak of "these" alerts, which is what they
act on, rather than of "all".
"""

from __future__ import annotations

from collections.abc import Sequence

from opswatch.models import Alert, Service

SMS_LIMIT = 480  # three concatenated segments; carriers split longer texts unreliably


def where(alert: Alert, service: Service | None) -> str:
    """ "production-de-01/customer-api", else the service's name, else ""."""
    labels = alert.labels or {}
    cluster, namespace = labels.get("cluster"), labels.get("namespace")
    if cluster and namespace:
        return f"{cluster}/{namespace}"
    if cluster or namespace:
        return str(cluster or namespace)
    return service.name if service else ""


def summary_of(alert: Alert) -> str:
    annotations = alert.annotations or {}
    return str(annotations.get("summary") or alert.description or alert.title).strip()


def sms_text(
    alerts: Sequence[Alert], services: dict[object, Service], *, more_waiting: bool = False
) -> str:
    """``[OpsWatch] CRITICAL: PodCrashLoopBackOff in production-de-01/customer-api. Reply ACK
    to acknowledge or ESC to escalate. Alert ID: abc123``"""
    first = alerts[0]
    place = where(first, services.get(first.service_id))  # type: ignore[attr-defined]
    name = (first.labels or {}).get("alertname") or first.title
    headline = f"{first.severity.value.upper()}: {name}" + (f" in {place}" if place else "")
    if len(alerts) == 1:
        text = (
            f"[OpsWatch] {headline}. Reply ACK to acknowledge or ESC to escalate. "
            f"Alert ID: {first.short_id}"
        )
    else:
        others = ", ".join(a.short_id for a in alerts[1:6])
        more = f" and {len(alerts) - 6} more" if len(alerts) > 6 else ""
        count, which = (
            (f"{len(alerts)} alerts (more waiting)", f"these {len(alerts)}")
            if more_waiting
            else (f"{len(alerts)} alerts", "all")
        )
        text = (
            f"[OpsWatch] {count}. {headline} ({first.short_id}); also {others}{more}. "
            f"Reply ACK to acknowledge {which} or ESC to escalate {which}."
        )
    return text if len(text) <= SMS_LIMIT else text[: SMS_LIMIT - 1] + "…"


def call_script(
    alerts: Sequence[Alert], services: dict[object, Service], *, more_waiting: bool = False
) -> str:
    """``Critical alert for <service>. <summary>. Press 1 to acknowledge. Press 2 to escalate.``"""
    first = alerts[0]
    service = services.get(first.service_id)  # type: ignore[attr-defined]
    subject = service.name if service else where(first, None) or first.title
    severity = first.severity.value.capitalize()
    said = f"{severity} alert for {subject}. {_sentence(summary_of(first))}"
    if len(alerts) == 1:
        return f"{said} Press 1 to acknowledge. Press 2 to escalate."
    if more_waiting:
        return (
            f"You have {len(alerts)} alerts, and more are waiting. {said} "
            f"And {len(alerts) - 1} more. Press 1 to acknowledge these {len(alerts)}. "
            "Press 2 to escalate them."
        )
    return (
        f"You have {len(alerts)} alerts. {said} And {len(alerts) - 1} more. "
        "Press 1 to acknowledge all. Press 2 to escalate all."
    )


def _sentence(text: str) -> str:
    text = " ".join(text.split())[:300]
    return text if text.endswith((".", "!", "?")) else f"{text}."
