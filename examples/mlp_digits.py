"""A small PyTorch MLP on sklearn's digits, tuned by a Tunehub study on Ray workers.

    python examples/mlp_digits.py            # create the study (server at TUNEHUB_URL)
    tunehub worker --study mlp-digits --entrypoint examples.mlp_digits:train

Each trial trains for ``trial.budget`` epochs when the study has a fidelity (a
multi-fidelity policy such as ``asha`` sets it), else ``EPOCHS``; it reports the
validation loss after every epoch (a policy may stop it there) and checkpoints,
so a retried or promoted trial resumes where its parent stopped. It trains on
the GPU Ray gave it, if any, and records the device in the trial's metrics.
"""

from __future__ import annotations

import time

import tunehub

STUDY = "mlp-digits"
EPOCHS = 15


def space() -> dict[str, tunehub.Float | tunehub.Int]:
    return {
        "lr": tunehub.Float(1e-4, 1e-1, log=True),
        "hidden": tunehub.Int(16, 256, log=True),
        "dropout": tunehub.Float(0.0, 0.5),
        "weight_decay": tunehub.Float(1e-6, 1e-2, log=True),
    }


def create_study(client: tunehub.Client, *, gpus: float = 0.0) -> tunehub.Study:
    return client.create_study(
        name=STUDY,
        space=space(),
        objectives={"val_loss": "minimize"},
        policy="random",
        policy_options={"stopping": {"rule": "median", "min_trials": 5, "warmup_steps": 3}},
        seed=0,
        max_retries=2,
        resources={"num_cpus": 1, "num_gpus": gpus},
    )


def train(trial: tunehub.Trial) -> float:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    features, labels = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features / 16.0, labels, test_size=0.2, random_state=0, stratify=labels
    )

    def tensor(a: object, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=device)

    xt, yt = tensor(x_train, torch.float32), tensor(y_train, torch.long)
    xv, yv = tensor(x_val, torch.float32), tensor(y_val, torch.long)
    hidden = int(trial.params["hidden"])  # type: ignore[arg-type]
    torch.manual_seed(trial.number)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(float(trial.params["dropout"])),  # type: ignore[arg-type]
        torch.nn.Linear(hidden, 10),
    ).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=float(trial.params["lr"]),  # type: ignore[arg-type]
        weight_decay=float(trial.params["weight_decay"]),  # type: ignore[arg-type]
    )
    start, checkpoint = 0, None
    if trial.checkpoint_dir is not None:
        checkpoint = trial.checkpoint_dir / "model.pt"
        if checkpoint.exists():  # a retry: go on from the parent's last epoch
            state = torch.load(checkpoint, map_location=device)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start = state["epoch"] + 1
    loss_fn = torch.nn.CrossEntropyLoss()
    started = time.perf_counter()
    val_loss, accuracy = float("inf"), None
    epochs = int(trial.budget) if trial.budget is not None else EPOCHS
    for epoch in range(start, epochs):
        model.train()
        order = torch.randperm(len(xt), device=device)
        for batch in order.split(64):
            optimizer.zero_grad()
            loss_fn(model(xt[batch]), yt[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(xv)
            val_loss = float(loss_fn(logits, yv))
            accuracy = float((logits.argmax(1) == yv).float().mean())
        if checkpoint is not None:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save({**state, "epoch": epoch}, checkpoint)
        if trial.report(epoch + 1, val_loss):  # steps count the epochs trained
            raise tunehub.TrialPruned()
    trial.metrics.update(
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        val_accuracy=accuracy,
        train_seconds=time.perf_counter() - started,
        epochs=epochs - start,
    )
    return val_loss


if __name__ == "__main__":
    with tunehub.Client() as client:
        study = create_study(client)
        print(f"study {study.name!r} (id {study.id}) is ready on {client.url}")
