"""Domain errors: each carries a stable code that clients can rely on."""

from __future__ import annotations


class DomainError(Exception):
    """A command refused by a rule of the domain."""

    code = "domain_error"
    title = "処理できません"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        rules: tuple[str, ...] = (),
        allowed_commands: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.rules = rules
        self.allowed_commands = allowed_commands


class CommandNotAllowed(DomainError):
    """The command has no transition from the case's current state."""

    code = "command_not_allowed"
    title = "現在の状態では実行できません"


class GateRefused(DomainError):
    """A guard of the workflow (a rule of the notice) does not hold."""

    title = "要件を満たしていません"


class RuleViolation(DomainError):
    """A rule checked outside the case workflow (e.g. recording a meeting)."""

    title = "規則に反しています"


class NotFound(DomainError):
    """The case or meeting does not exist for this municipality."""

    code = "not_found"
    title = "見つかりません"


class VersionConflict(DomainError):
    """The expected version is not the current one; nothing was written."""

    code = "version_conflict"
    title = "他の更新と競合しました"


class RoleNotPermitted(DomainError):
    """The acting role may not issue this command."""

    code = "role_not_permitted"
    title = "権限がありません"


class AgencyNotInvolved(RoleNotPermitted):
    """The acting agency takes no part in the case it writes to (R-CON-1, R-CON-2, R-CON-4)."""

    code = "agency_not_involved"
    title = "このケースに関与していない機関です"


class ActingAgencyMismatch(RoleNotPermitted):
    """A body names another agency as the one acting; the acting agency is the credential's."""

    code = "acting_agency_mismatch"
    title = "他の機関として記録することはできません"
