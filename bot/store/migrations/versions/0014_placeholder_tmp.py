"""TEMPORARY stand-in for the DORA branch's 0014 until it merges (or is renumbered)."""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
