"""The release gate CI asks before it deploys: go, or why not (freezes; approvals to come)."""
