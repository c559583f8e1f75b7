"""Registry audits: every image of a registry scanned as ``scan image`` scans it, resumable."""

from leakscan.audit.runner import AuditOptions, AuditResult, AuditStats, run_audit

__all__ = ["AuditOptions", "AuditResult", "AuditStats", "run_audit"]
