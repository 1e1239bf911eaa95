"""A few SEC training steps (Kolesnikov & Lampert 2016) on the CPU, with weaksup.torch's
three losses: a tiny segmentation head learns, from image-level labels and localization
cues only, to segment synthetic images (coloured squares on a noisy background).

    python examples/sec_training_step.py        # prints the loss of each step
"""

from __future__ import annotations

from typing import List, Tuple

import torch

from weaksup.torch import constrain_loss, expand_loss, seed_loss

CLASSES = 3  # background, red square, green square
SIZE = 41    # SEC's score maps


def synthetic_batch(n: int = 6, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images (N, 3, H, W) in 0..255, image labels (N, C) 0/1, cues (N, C, H, W) 0/1): each
    image holds one or two squares; the cues are the squares' centres and the border (as
    a CAM's most confident pixels would be)."""
    g = torch.Generator().manual_seed(seed)
    images = 60 + 20 * torch.rand(n, 3, SIZE, SIZE, generator=g)
    labels = torch.zeros(n, CLASSES)
    labels[:, 0] = 1
    cues = torch.zeros(n, CLASSES, SIZE, SIZE)
    cues[:, 0, :3, :] = cues[:, 0, -3:, :] = cues[:, 0, :, :3] = cues[:, 0, :, -3:] = 1
    for i in range(n):
        for c in (1, 2):
            if c == 2 and i % 2 == 0:
                continue
            y, x = (int(v) for v in torch.randint(4, SIZE - 16, (2,), generator=g))
            images[i, c - 1, y:y + 12, x:x + 12] = 230  # channel 0 red, channel 1 green
            labels[i, c] = 1
            cues[i, c, y + 4:y + 8, x + 4:x + 8] = 1
    return images, labels, cues


def head() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, CLASSES, 3, padding=1))


def train(steps: int = 30, seed: int = 0) -> List[float]:
    """The SEC loss (seed + expand + constrain) after each of ``steps`` Adam steps."""
    torch.manual_seed(seed)
    images, labels, cues = synthetic_batch(seed=seed)
    model = head()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        probs = torch.softmax(model(images / 255.0), dim=1)
        loss = seed_loss(probs, cues) + expand_loss(probs, labels) + constrain_loss(probs, images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


if __name__ == "__main__":
    for step, value in enumerate(train(), 1):
        print(f"step {step:2d}: loss {value:.4f}")
