module taskctl.bench/go-seed-server

go 1.19
