"""Herald's App Home: what one person sees when they open Herald in Slack."""
