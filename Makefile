# The two commands of the README are `make run` and `make test`; the rest are conveniences.
.PHONY: run test watch sam-build deploy fmt

# The whole server on http://127.0.0.1:8080 with an embedded store and key in .data/.
run:
	cargo run --release -p appid-local -- $(ARGS)

# Every test, emulators included.
test:
	infra/test.sh

# Both Lambda functions under cargo lambda watch (see README).
watch:
	infra/watch.sh

sam-build:
	sam build

deploy:
	infra/deploy.sh

fmt:
	cargo fmt --all
