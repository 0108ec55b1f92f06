// Package config holds evmgate's configuration file schema: the keys of
// StakeSquid's evm-loadbalancer (which load unchanged) and evmgate's own keys
// beside them, their defaults, and validation whose errors name the key path
// and the fix.
//
// Config types are plain data. Load reads a YAML file strictly (an unknown or
// misspelt key is an error naming the key and its line), expands ${VAR} and
// ${VAR:-default} from the environment so provider API keys stay out of the
// file, applies Default and then Validate. Runtime objects are built from a
// validated Config by package gateway.
package config
