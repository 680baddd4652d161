"""Each shard of a fleet (`--instance-id`) elects its own leader on its own Lease."""

from canary.cli.commands_controller import lease_name


def test_without_an_instance_id_the_lease_is_canary_controller() -> None:
    assert lease_name(None, None) == "canary-controller"


def test_each_instance_id_has_its_own_lease() -> None:
    assert lease_name(None, "a") != lease_name(None, "b")
    assert lease_name(None, "a") == "canary-controller-a"


def test_a_lease_named_on_the_command_line_wins() -> None:
    assert lease_name("mine", "a") == "mine"
