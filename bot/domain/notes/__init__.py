"""Release notes and the stakeholder digest: data and plain text."""
