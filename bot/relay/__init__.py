"""The relay: routes tokens between the two members of a pairing, reading headers only."""
