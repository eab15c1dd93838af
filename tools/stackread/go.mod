module stackread

go 1.24.0

require (
	github.com/pulumi/pulumi/sdk/v3 v3.211.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/aead/chacha20 v0.0.0-20180709150244-8b13a72661da // indirect
	github.com/golang/glog v1.2.4 // indirect
	golang.org/x/crypto v0.45.0 // indirect
	golang.org/x/sys v0.38.0 // indirect
	lukechampine.com/frand v1.4.2 // indirect
)
