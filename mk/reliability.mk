# Long checks of docs/reliability.md that stay out of `make test`.

# A destination that accepts connections and never answers, for
# OPSHUB_SOAK_DURATION (default 10m): goroutines, heap and connections must
# not grow. It prints the table docs/reliability.md shows.
.PHONY: soak-hung-destination
soak-hung-destination: ## 10 minutes against a destination that never answers: goroutines and heap must not grow
	$(GO) test -count=1 -tags soak -run TestHungDestinationSoak -timeout 30m -v ./sinks/http/
