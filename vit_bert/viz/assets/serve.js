// The served page (vit-bert explore): send a sentence or an image to the server, draw the panels it answers.
const form = document.getElementById("vb-form"), status = document.getElementById("vb-status"), root = document.getElementById("vb-root");

async function submit(body, type) {
  status.textContent = "computing…";
  const response = await fetch("/explore", { method: "POST", headers: { "Content-Type": type }, body });
  const answer = await response.json();
  if (!response.ok) { status.textContent = answer.error; status.className = "vb-error"; return; }
  status.textContent = ""; status.className = "";
  await mountExplorer(root, answer.panels);
}

for (const button of form.querySelectorAll("button[data-kind]")) {
  button.addEventListener("click", (event) => {
    event.preventDefault();
    if (button.dataset.kind === "text") submit(form.querySelector("[name=sentence]").value, "text/plain; charset=utf-8");
    else {
      const file = form.querySelector("[name=image]").files[0];
      if (!file) { status.textContent = "choose an image file first"; return; }
      submit(file, file.type || "application/octet-stream");
    }
  });
}
