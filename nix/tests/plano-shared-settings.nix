# dubnium.plano.settings of both gateways in ./plano-shared.nix, builtins only so that tests/nix validates
# them offline with plano-daemon (the VM test itself needs nixpkgs): three providers on the fake vLLM, the
# seed's two routes, and a daily request cap on one provider.
{
  baseUrl,
  localModel,
  cap,
}:
let
  provider = model: {
    inherit model;
    access_key = "EMPTY";
    base_url = baseUrl;
  };
in
{
  model_providers = [
    ((provider "openai/${localModel}") // { default = true; })
    (provider "openai/reasoner")
    (provider "openai/capped")
  ];
  routing_preferences = [
    {
      name = "complex_reasoning";
      description = "complex reasoning tasks, multi-step analysis, or detailed explanations";
      models = [ "openai/reasoner" ];
    }
    {
      name = "code_generation";
      description = "generating new code, writing functions, or creating boilerplate";
      models = [ "openai/${localModel}" ];
    }
  ];
  dubnium.budgets = [
    {
      target = "openai/capped";
      daily_requests = cap;
    }
  ];
}
