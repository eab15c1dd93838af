"""Long names are shortened the same way by every cloud, and exactly as before they shared one function.

A changed shortening renames a role, a node group or an identity on the next `pulumi up`
(a replacement), so the values here are the names stacks already carry.
"""

from llm_infra.aws import naming as aws_naming
from llm_infra.azure import naming as azure_naming
from llm_infra.gcp import naming as gcp_naming
from llm_infra.naming import fit

LONG = "llm-a-very-long-environment-name-for-testing-model-identities-and-more"


def test_a_name_that_fits_is_kept():
    assert fit("llm-dev-model-m", 64) == "llm-dev-model-m"
    assert azure_naming.short("llm-dev", 40) == "llm-dev"


def test_a_long_name_keeps_its_prefix_and_a_stable_hash_within_the_limit():
    assert aws_naming.role_name("llm-a-very-long-environment-name", "for-testing-model-identities-and-more") == (
        "llm-a-very-long-environment-name-for-testing-model-iden-415c83e6")
    assert gcp_naming.fit(LONG, 64) == aws_naming.fit(LONG, 64)
    # Azure's names have always carried a 6-hex hash.
    assert azure_naming.short(LONG, 40) == "llm-a-very-long-environment-name-415c83"
    assert all(len(fit(LONG, n)) <= n for n in range(12, 70))
