"""The assembled schema: one Query, Mutation and Subscription composed from the domains."""

from __future__ import annotations

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from opswatch.errors import OpsWatchError
from resolvers import alerts as alert_resolvers
from resolvers import audit as audit_resolvers
from resolvers import escalation as escalation_resolvers
from resolvers import inbox as inbox_resolvers
from resolvers import knowledge as knowledge_resolvers
from resolvers import rosters as roster_resolvers
from resolvers import runbooks as runbook_resolvers
from resolvers import services as service_resolvers
from resolvers import slack as slack_resolvers
from resolvers import telephony as telephony_resolvers
from resolvers import tenants as tenant_resolvers
from resolvers import users as user_resolvers
from schema.alerts import Alert, AlertConnection, AlertEvent
from schema.audit import AuditConnection
from schema.escalation import EscalationPolicy
from schema.extensions import DatabaseUnavailable, RefuseNul
from schema.inbox import FailedEventConnection, RetriedEvents
from schema.knowledge import Incident, IncidentConnection, IncidentEvent, KnowledgeHit
from schema.knowledge_runbooks import Runbook
from schema.logged import LoggedSchema
from schema.rosters import Notification, OnCallChange, Override, Roster
from schema.services import Service
from schema.slack import SlackWorkspace
from schema.telephony import TelephonyTest
from schema.tenants import ApiKey, CreatedApiKey, Tenant, Viewer
from schema.users import CreatedUserToken, User, UserToken


@strawberry.type
class Query:
    viewer: Viewer = strawberry.field(resolver=tenant_resolvers.viewer)
    users: list[User] = strawberry.field(resolver=user_resolvers.users)
    user: User | None = strawberry.field(resolver=user_resolvers.user)
    user_tokens: list[UserToken] = strawberry.field(resolver=user_resolvers.user_tokens_list)
    services: list[Service] = strawberry.field(resolver=service_resolvers.services)
    api_keys: list[ApiKey] = strawberry.field(resolver=tenant_resolvers.api_keys)
    alerts: AlertConnection = strawberry.field(resolver=alert_resolvers.alerts)
    alert: Alert | None = strawberry.field(resolver=alert_resolvers.alert)
    rosters: list[Roster] = strawberry.field(resolver=roster_resolvers.rosters)
    roster: Roster | None = strawberry.field(resolver=roster_resolvers.roster)
    notifications: list[Notification] = strawberry.field(resolver=roster_resolvers.notifications)
    escalation_policies: list[EscalationPolicy] = strawberry.field(
        resolver=escalation_resolvers.escalation_policies
    )
    slack_workspace: SlackWorkspace | None = strawberry.field(
        resolver=slack_resolvers.slack_workspace
    )
    slack_install_url: str | None = strawberry.field(resolver=slack_resolvers.slack_install_url)
    incidents: IncidentConnection = strawberry.field(resolver=knowledge_resolvers.incidents_page)
    incident: Incident | None = strawberry.field(resolver=knowledge_resolvers.incident)
    search_knowledge_base: list[KnowledgeHit] = strawberry.field(
        resolver=knowledge_resolvers.search_knowledge_base
    )
    audit_log: AuditConnection = strawberry.field(resolver=audit_resolvers.audit_log)
    failed_events: FailedEventConnection = strawberry.field(resolver=inbox_resolvers.failed_events)
    runbooks: list[Runbook] = strawberry.field(resolver=runbook_resolvers.runbooks)
    runbook: Runbook | None = strawberry.field(resolver=runbook_resolvers.runbook)


@strawberry.type
class Mutation:
    create_user: User = strawberry.mutation(resolver=user_resolvers.create_user)
    update_user: User = strawberry.mutation(resolver=user_resolvers.update_user)
    deactivate_user: User = strawberry.mutation(resolver=user_resolvers.deactivate_user)
    reactivate_user: User = strawberry.mutation(resolver=user_resolvers.reactivate_user)
    delete_user: strawberry.ID = strawberry.mutation(resolver=user_resolvers.delete_user)
    create_user_token: CreatedUserToken = strawberry.mutation(
        resolver=user_resolvers.create_user_token
    )
    revoke_user_token: UserToken = strawberry.mutation(resolver=user_resolvers.revoke_user_token)
    create_service: Service = strawberry.mutation(resolver=service_resolvers.create_service)
    update_service: Service = strawberry.mutation(resolver=service_resolvers.update_service)
    delete_service: strawberry.ID = strawberry.mutation(resolver=service_resolvers.delete_service)
    create_api_key: CreatedApiKey = strawberry.mutation(resolver=tenant_resolvers.create_api_key)
    update_api_key: ApiKey = strawberry.mutation(resolver=tenant_resolvers.update_api_key)
    revoke_api_key: ApiKey = strawberry.mutation(resolver=tenant_resolvers.revoke_api_key)
    update_tenant: Tenant = strawberry.mutation(resolver=tenant_resolvers.update_tenant)
    acknowledge_alert: Alert = strawberry.mutation(resolver=alert_resolvers.acknowledge_alert)
    resolve_alert: Alert = strawberry.mutation(resolver=alert_resolvers.resolve_alert)
    escalate_alert: Alert = strawberry.mutation(resolver=alert_resolvers.escalate_alert)
    create_roster: Roster = strawberry.mutation(resolver=roster_resolvers.create_roster)
    update_roster: Roster = strawberry.mutation(resolver=roster_resolvers.update_roster)
    set_roster_members: Roster = strawberry.mutation(resolver=roster_resolvers.set_roster_members)
    delete_roster: strawberry.ID = strawberry.mutation(resolver=roster_resolvers.delete_roster)
    create_override: Override = strawberry.mutation(resolver=roster_resolvers.create_override)
    delete_override: Override = strawberry.mutation(resolver=roster_resolvers.delete_override)
    create_escalation_policy: EscalationPolicy = strawberry.mutation(
        resolver=escalation_resolvers.create_escalation_policy
    )
    update_escalation_policy: EscalationPolicy = strawberry.mutation(
        resolver=escalation_resolvers.update_escalation_policy
    )
    delete_escalation_policy: strawberry.ID = strawberry.mutation(
        resolver=escalation_resolvers.delete_escalation_policy
    )
    assign_escalation_policy: Service = strawberry.mutation(
        resolver=escalation_resolvers.assign_escalation_policy
    )
    configure_telephony: Tenant = strawberry.mutation(
        resolver=telephony_resolvers.configure_telephony_resolver
    )
    test_telephony: TelephonyTest = strawberry.mutation(
        resolver=telephony_resolvers.telephony_test_resolver
    )
    configure_slack: SlackWorkspace = strawberry.mutation(
        resolver=slack_resolvers.configure_slack_resolver
    )
    create_incident: Incident = strawberry.mutation(resolver=knowledge_resolvers.create_incident)
    update_incident: Incident = strawberry.mutation(resolver=knowledge_resolvers.update_incident)
    resolve_incident: Incident = strawberry.mutation(resolver=knowledge_resolvers.resolve_incident)
    promote_to_incident: Incident = strawberry.mutation(
        resolver=knowledge_resolvers.promote_to_incident
    )
    update_retention: Tenant = strawberry.mutation(resolver=audit_resolvers.update_retention)
    retry_failed_events: RetriedEvents = strawberry.mutation(
        resolver=inbox_resolvers.retry_failed_events
    )
    create_runbook: Runbook = strawberry.mutation(resolver=runbook_resolvers.create_runbook)
    update_runbook: Runbook = strawberry.mutation(resolver=runbook_resolvers.update_runbook)
    delete_runbook: strawberry.ID = strawberry.mutation(resolver=runbook_resolvers.delete_runbook)


@strawberry.type
class Subscription:
    alert_events: AlertEvent = strawberry.subscription(  # type: ignore[assignment]
        resolver=alert_resolvers.alert_events
    )
    oncall_changed: OnCallChange = strawberry.subscription(  # type: ignore[assignment]
        resolver=roster_resolvers.oncall_changed
    )
    incident_events: IncidentEvent = strawberry.subscription(  # type: ignore[assignment]
        resolver=knowledge_resolvers.incident_events
    )


def should_mask(error: GraphQLError) -> bool:
    """Show what the caller can fix (our errors, validation); hide everything else."""
    original = error.original_error
    # A GraphQLError as the original is the caller's own mistake too (a variable
    # that does not fit its type): masking it would hide what to fix.
    return original is not None and not isinstance(original, OpsWatchError | GraphQLError)


schema = LoggedSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[
        lambda: QueryDepthLimiter(max_depth=10),
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: MaxAliasesLimiter(max_alias_count=30),
        RefuseNul,
        lambda: MaskErrors(should_mask_error=should_mask),
        DatabaseUnavailable,  # after MaskErrors, so it sees the errors unmasked
    ],
)
