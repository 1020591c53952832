{
  "targets": [
    {
      "target_name": "vgpio_native",
      "sources": [
        "src/native/addon.c",
        "src/native/eventfd.c",
        "src/native/fdpass.c",
        "src/native/mapping.c",
        "src/native/pty.c",
        "src/native/watch.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wstrict-prototypes", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
