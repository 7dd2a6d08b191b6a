"""The demo: its own small dataset (data.py) and the fine-tuning step (finetune.py, needs the demo extra)."""
