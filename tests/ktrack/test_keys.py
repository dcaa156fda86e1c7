"""The one table of metric-key roles: ktrack's own key first, every spelling in one role only."""
from ktrack import keys


def test_own_key_first_and_roles_disjoint():
    roles = [keys.TRAIN_LOSS_KEYS, keys.VAL_LOSS_KEYS, keys.LR_KEYS, keys.SPARSITY_KEYS, keys.ITERATION_KEYS]
    assert [r[0] for r in roles[:4]] == [keys.TRAIN_LOSS, keys.VAL_LOSS, keys.LR, keys.SPARSITY]
    spellings = [s for r in roles for s in r]
    assert len(spellings) == len(set(spellings))


def test_integration_renames():
    assert keys.TRAINER_KEYS == {"loss": "train/loss", "learning_rate": "lr", "eval_loss": "val/loss"}
    assert keys.ACCELERATE_KEYS == {**keys.TRAINER_KEYS, "train_loss": "train/loss", "training_loss": "train/loss",
                                    "val_loss": "val/loss", "validation_loss": "val/loss", "lr": "lr"}
