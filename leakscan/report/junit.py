"""JUnit XML: one test suite; one failing test case per finding location, so CI systems
that read JUnit list each leaked secret. A clean scan is one passing case; a scan error is an
``<error>`` case. Secrets are redacted (unless ``--show-secrets``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from leakscan.model import ScanResult
from leakscan.report.safe_text import xml_text
from leakscan.report.table import describe


class JunitReporter:
    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        suites = ET.Element("testsuites", name="leakscan")
        suite = ET.SubElement(suites, "testsuite", name="leakscan secret scan")
        tests = failures = errors = 0
        for finding in result.findings:
            value = finding.secret if show_secrets and finding.secret else finding.redacted
            value = xml_text(value)
            for loc in finding.locations:
                where = xml_text(describe(loc))
                tests += 1
                failures += 1
                case = ET.SubElement(
                    suite, "testcase", classname=xml_text(finding.rule_id), name=where
                )
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=finding.severity,
                    message=xml_text(f"{finding.rule_name} ({finding.severity}) in ") + where,
                )
                failure.text = (
                    f"rule {xml_text(finding.rule_id)}\nvalue {value}\n"
                    f"confidence {finding.confidence}\n"
                    f"fingerprint {finding.fingerprint}\n"
                )
        for error in result.errors:
            tests += 1
            errors += 1
            case = ET.SubElement(suite, "testcase", classname="leakscan", name="scan error")
            ET.SubElement(case, "error", message=xml_text(error))
        if tests == 0:
            tests = 1
            ET.SubElement(suite, "testcase", classname="leakscan", name="no secrets found")
        if result.skipped:
            out = ET.SubElement(suite, "system-out")
            out.text = "\n".join(xml_text(f"skipped {s.where}: {s.reason}") for s in result.skipped)
        for elem in (suites, suite):
            elem.set("tests", str(tests))
            elem.set("failures", str(failures))
            elem.set("errors", str(errors))
            elem.set("time", f"{result.stats.seconds:.3f}")
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
