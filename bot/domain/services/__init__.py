"""Services: the directory of services and environments, who may act, who is on call."""
