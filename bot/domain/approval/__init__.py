"""Go/no-go: who must approve a release before it ships, their votes, and the readiness
checklist the approvers read (README.md, Go/no-go approvals)."""
