"""Built-in label sets, so callers can classify without bringing labels."""

from __future__ import annotations

from services.classifier.zero_shot import LabelSpec

# Document types a project team sees; descriptions are what the text is compared with.
DOCUMENT_TYPES = (
    LabelSpec("meeting_notes", "Notes or minutes of a meeting: attendees, discussion, decisions."),
    LabelSpec("project_plan", "A project plan: goals, milestones, schedule, tasks and owners."),
    LabelSpec("status_report", "A status report: progress made, risks, blockers and next steps."),
    LabelSpec("email", "An email message with a greeting, a request or update, and a sign-off."),
    LabelSpec("contract", "A legal contract: parties, terms, obligations, signatures."),
    LabelSpec("invoice", "An invoice: items billed, amounts, totals, payment terms."),
    LabelSpec("specification", "A technical specification: requirements, interfaces, design."),
    LabelSpec("proposal", "A proposal: a problem, a suggested solution, costs and benefits."),
    LabelSpec("report", "An analytical report: findings, data and conclusions."),
)

TAXONOMIES = {"document_types": DOCUMENT_TYPES}
