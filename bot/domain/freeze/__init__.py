"""Change freezes: windows in which releases wait, when they begin and end, and whom they hold."""
