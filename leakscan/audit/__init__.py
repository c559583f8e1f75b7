"""Registry audits: every image of a registry scanned, shared layers once, resumable."""

from leakscan.audit.runner import AuditOptions, AuditResult, AuditStats, run_audit

__all__ = ["AuditOptions", "AuditResult", "AuditStats", "run_audit"]
